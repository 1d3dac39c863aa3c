// @ts-check
// The metrics API as the page calls it: JSON, the key in a header (never a URL), no caching.

export class AuthRequired extends Error {}

/**
 * An absolute URL under /metrics/, whatever path the page was served from (read at each call, so
 * the module also loads where there is no page, as in the unit tests).
 * @param {string} path
 */
export const endpoint = (path) => new window.URL(path, new window.URL('../metrics/', document.baseURI)).toString();

/** The page's fetch: a URL and fetch's options (headers as a plain object). @typedef {(url: string, init?: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> }) => Promise<Response>} Api */

/**
 * fetch with the gateway key from keyOf(); a 401 throws AuthRequired.
 * @param {() => string} keyOf
 * @returns {Api}
 */
export function createApi(keyOf) {
  return async function api(url, init = {}) {
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json', ...init.headers };
    const key = keyOf();
    if (key) headers['x-api-key'] = key;
    const response = await fetch(url, { ...init, headers, cache: 'no-store', credentials: 'same-origin' });
    if (response.status === 401) throw new AuthRequired('API key required');
    return response;
  };
}
