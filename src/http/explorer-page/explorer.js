// Mounts GraphiQL (its standalone build, from the graphiql npm package) on this server's
// /graphql. Headers such as Authorization: Bearer <OPS_TOKEN> go in GraphiQL's Headers tab.
/* global React, ReactDOM, GraphiQL */
(function () {
  const url = new URL(location.pathname, location.href).href;
  const fetcher = GraphiQL.createFetcher({ url });
  const defaultQuery = `# tally: items with their cached review aggregates, and how fresh the views are.
# Ctrl-Enter runs the query; the Docs button on the left shows the schema.
{
  gearItems(first: 5, orderBy: [{ field: REVIEW_COUNT, direction: DESC }]) {
    totalCount
    edges { node { id name reviewCount reviewRating category { name } } }
  }
  materializedViews { name stale lastRefreshedAt lastRefreshDurationMs }
}
`;
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, { fetcher, defaultQuery, defaultEditorToolsVisibility: true }),
  );
})();
