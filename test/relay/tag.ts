/**
 * Stands in for react-relay's `graphql` tag: the Relay compiler only reads the tagged
 * templates in test/relay/src; nothing runs them.
 */
export const graphql = (text: TemplateStringsArray): string => text.join('');
