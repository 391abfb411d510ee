/**
 * Which GET /graphql requests are a browser opening the playground, and which stay API calls for Apollo.
 */
import { prefersHtml, wantsPlaygroundPage } from '../../src/http/playground';

const CHROME =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
const FIREFOX = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const SAFARI = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('prefersHtml', () => {
  test.each<[string, string | undefined, boolean]>([
    ['Chrome', CHROME, true],
    ['Firefox', FIREFOX, true],
    ['Safari', SAFARI, true],
    ['text/html alone', 'text/html', true],
    ['text/* over */*', 'text/*, */*;q=0.5', true],
    ['no header (undici, curl without -H)', undefined, false],
    ['an empty header', '', false],
    ['*/* (curl)', '*/*', false],
    ['application/json', 'application/json', false],
    ['the GraphQL response type', 'application/graphql-response+json, application/json;q=0.9', false],
    ['HTML and JSON at the same q: JSON wins the tie', 'application/json, text/html', false],
    ['HTML named first at the same q', 'text/html, application/json', true],
    ['HTML at a lower q', 'text/html;q=0.5, application/json', false],
    ['HTML refused', 'text/html;q=0, */*', false],
    [
      'JSON refused, HTML through */*',
      'application/json;q=0, application/graphql-response+json;q=0, multipart/mixed;q=0, */*',
      true,
    ],
    ['upper case and spaces', ' TEXT/HTML ; q=1 , */* ; q=0.1', true],
  ])('%s', (_name, accept, expected) => {
    expect(prefersHtml(accept)).toBe(expected);
  });
});

describe('wantsPlaygroundPage', () => {
  test.each<[string, string, string, string | undefined, boolean]>([
    ['a browser opening /graphql', 'GET', '/graphql', CHROME, true],
    ['with other parameters', 'GET', '/graphql?tab=2', CHROME, true],
    ['HEAD from a browser', 'HEAD', '/graphql', CHROME, true],
    ['a query parameter makes it an API call', 'GET', '/graphql?query=%7B__typename%7D', CHROME, false],
    ['an empty query parameter too', 'GET', '/graphql?query=', CHROME, false],
    ['a JSON client', 'GET', '/graphql', 'application/json', false],
    ['a POST from a browser', 'POST', '/graphql', CHROME, false],
  ])('%s', (_name, method, url, accept, expected) => {
    expect(wantsPlaygroundPage(method, url, accept)).toBe(expected);
  });
});
