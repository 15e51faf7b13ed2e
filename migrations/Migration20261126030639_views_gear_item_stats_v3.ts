import { Migration } from '@mikro-orm/migrations';
import type { ViewVersions } from '../src/modules/views/names';
import { swapViews } from '../src/modules/views/ddl/swap.v1';

// Written by `npm run migration:views`: gear_item_stats v2 → v3, category_stats v1 (rebuilt: reads a changed view);
// built side by side and swapped in; readers keep reading (see swapViews).
export class Migration20261126030639_views_gear_item_stats_v3 extends Migration {
  /** The versions after `up` (read by the generator). */
  static readonly views: ViewVersions = {
    gear_item_stats: { version: 3, sha256: '9e08b8bee48a747a1a77144b9469dfaca1be7dc1efe6f12fbdf9a38386ef5977' },
    category_stats: { version: 1, sha256: '6bb0ec882ca13f2b820d07e7921e3e92d0100408e3b4f2aa2990ce8f72cd9297' },
  };

  /** The versions `down` goes back to. */
  static readonly previous: ViewVersions = {
    gear_item_stats: { version: 2, sha256: 'e33834203db43dc4e0f06c095bec1c5abf35f51e63a859483d7fa175761560a8' },
    category_stats: { version: 1, sha256: '6bb0ec882ca13f2b820d07e7921e3e92d0100408e3b4f2aa2990ce8f72cd9297' },
  };

  override async up(): Promise<void> {
    await swapViews(this, Migration20261126030639_views_gear_item_stats_v3.views);
  }

  override async down(): Promise<void> {
    await swapViews(this, Migration20261126030639_views_gear_item_stats_v3.previous);
  }
}
