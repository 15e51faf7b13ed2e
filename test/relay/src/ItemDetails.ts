import { graphql } from '../tag';

// An item's details, refetchable by its global id (node(nodeId:)).
export const ItemDetails = graphql`
  fragment ItemDetails_item on GearItem @refetchable(queryName: "ItemDetailsRefetchQuery") {
    nodeId
    id
    name
    reviewCount
    reviewRating
    category {
      nodeId
      name
    }
  }
`;
