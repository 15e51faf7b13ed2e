import { graphql } from '../tag';

// usePaginationFragment over an item's reviews: both directions, refetched through node().
export const ItemReviews = graphql`
  fragment ItemReviews_item on GearItem
  @refetchable(queryName: "ItemReviewsPaginationQuery")
  @argumentDefinitions(count: { type: "Int", defaultValue: 5 }, cursor: { type: "String" }) {
    reviews(first: $count, after: $cursor) @connection(key: "ItemReviews_reviews") {
      edges {
        node {
          nodeId
          rating
          body
          createdAt
        }
      }
    }
  }
`;
