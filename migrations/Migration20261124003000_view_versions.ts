import { Migration } from '@mikro-orm/migrations';
import type { ViewVersions } from '../src/modules/views/names';
import { forgetViewVersions, recordViewVersions } from '../src/modules/views/ddl/swap.v1';

// The views' SQL now lives in migrations/views, one file per version. The views built by
// Migration20261124000100 are v1: checked against the files and recorded in their comments.
// Later view migrations are written by `npm run migration:views`.
export class Migration20261124003000_view_versions extends Migration {
  static readonly views: ViewVersions = {
    gear_item_stats: { version: 1, sha256: 'e43d3a98737b9514914e2dcee9f6f245e8c342886662087b1ad99bd264956570' },
    category_tree: { version: 1, sha256: 'dd3b50d848c2b9896b7c30b778af5c7d199165673584f1ae9021be8b465090d4' },
    category_stats: { version: 1, sha256: '6bb0ec882ca13f2b820d07e7921e3e92d0100408e3b4f2aa2990ce8f72cd9297' },
  };

  override async up(): Promise<void> {
    await recordViewVersions(this, Migration20261124003000_view_versions.views);
  }

  override async down(): Promise<void> {
    await forgetViewVersions(this, Migration20261124003000_view_versions.views);
  }
}
