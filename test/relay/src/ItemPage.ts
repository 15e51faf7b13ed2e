import { graphql } from '../tag';

export const ItemPageQuery = graphql`
  query ItemPageQuery($nodeId: ID!, $filter: GearItemFilter) {
    node(nodeId: $nodeId) {
      ...ItemDetails_item @alias
      ...ItemReviews_item @alias
    }
    ...ItemList_query @arguments(filter: $filter)
    ...ItemList_newest
    nodes(nodeIds: [$nodeId]) {
      nodeId
      ... on Category {
        name
      }
    }
  }
`;
