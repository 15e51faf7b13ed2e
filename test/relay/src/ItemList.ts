import { graphql } from '../tag';

// The item list: forward with a filter (or/not included), and backward from the end.
export const ItemList = graphql`
  fragment ItemList_query on Query
  @refetchable(queryName: "ItemListPaginationQuery")
  @argumentDefinitions(count: { type: "Int", defaultValue: 10 }, cursor: { type: "String" }, filter: { type: "GearItemFilter" }) {
    gearItems(first: $count, after: $cursor, filter: $filter, orderBy: [{ field: REVIEW_RATING, direction: DESC }])
      @connection(key: "ItemList_gearItems", filters: ["filter"]) {
      cachedAt
      generationChanged
      edges {
        node {
          nodeId
          ...ItemDetails_item
        }
      }
    }
  }
`;

export const ItemListNewest = graphql`
  fragment ItemList_newest on Query
  @refetchable(queryName: "ItemListNewestPaginationQuery")
  @argumentDefinitions(count: { type: "Int", defaultValue: 10 }, cursor: { type: "String" }) {
    newest: gearItems(last: $count, before: $cursor, orderBy: [{ field: CREATED_AT }]) @connection(key: "ItemList_newest") {
      edges {
        node {
          nodeId
          name
        }
      }
    }
  }
`;
