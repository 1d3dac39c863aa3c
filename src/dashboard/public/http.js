// The metrics API as the page calls it: JSON, the key in a header (never a URL), no caching.

export class AuthRequired extends Error {}

const base = new window.URL('../metrics/', document.baseURI);

/** An absolute URL under /metrics/, whatever path the page was served from. */
export const endpoint = (path) => new window.URL(path, base).toString();

/** fetch with the gateway key from keyOf(); a 401 throws AuthRequired. */
export function createApi(keyOf) {
  return async function api(url, init = {}) {
    const headers = { accept: 'application/json', ...init.headers };
    const key = keyOf();
    if (key) headers['x-api-key'] = key;
    const response = await fetch(url, { ...init, headers, cache: 'no-store', credentials: 'same-origin' });
    if (response.status === 401) throw new AuthRequired('API key required');
    return response;
  };
}
