import type { AppConfig } from './app-config';

/** The user and password of a URL, as written (percent-encoded) and decoded. */
function userinfo(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  return [parsed.username, parsed.password].flatMap((part) => {
    if (!part) return [];
    try {
      const decoded = decodeURIComponent(part);
      return decoded === part ? [part] : [part, decoded];
    } catch {
      return [part];
    }
  });
}

/**
 * Every secret the configuration holds, to be masked by value wherever text is relayed or recorded:
 * the gateway key, client keys (VDM_CLIENT_KEYS_FILE), the scrape key (VDM_SCRAPE_KEY), provider keys (not `!PASSTHRU`), provider admin keys (`{NAME}_ADMIN_KEY`) and userinfo in provider base and billing URLs. A new kind of
 * configured secret is added here.
 */
export function configuredSecrets(config: Pick<AppConfig, 'proxyApiKey' | 'providers' | 'clientKeys' | 'scrapeKey'>): string[] {
  const secrets: string[] = [];
  if (config.proxyApiKey) secrets.push(config.proxyApiKey);
  if (config.scrapeKey) secrets.push(config.scrapeKey);
  for (const client of config.clientKeys) if (client.key) secrets.push(client.key);
  for (const provider of config.providers.providers.values()) {
    if (provider.apiKey) secrets.push(provider.apiKey);
    for (const url of Object.values(provider.baseUrls)) secrets.push(...userinfo(url));
    if (provider.billing) secrets.push(provider.billing.adminKey, ...userinfo(provider.billing.baseUrl));
  }
  return secrets;
}
