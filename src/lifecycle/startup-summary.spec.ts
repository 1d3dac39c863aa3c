import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/app-config';
import { startupSummary } from './startup-summary';

describe(startupSummary.name, () => {
  it('names the dashboard at localhost when listening on every interface, and the open port in open mode', () => {
    const [auth, , , , dashboard] = startupSummary(loadConfig({ VDM_STORE: 'none' }), '0.0.0.0', 8082);
    expect(auth).toMatchObject({ level: 'warn', msg: expect.stringContaining('anyone who can reach port 8082 of this machine') });
    expect(dashboard).toEqual({ level: 'info', msg: 'Dashboard: http://localhost:8082/dashboard' });
  });

  it('never shows the store password', () => {
    const config = loadConfig({ VDM_STORE: 'postgres://vdm:s3cret@db:5432/usage', VDM_INSTANCE_ID: 'a', PROXY_API_KEY: 'k' });
    const lines = startupSummary(config, '127.0.0.1', 8082).map((l) => l.msg);
    expect(lines).toContain('Usage store: PostgreSQL postgres://vdm:***@db:5432/usage, instance a');
    expect(lines.join('\n')).not.toContain('s3cret');
    expect(lines[0]).toBe('Authentication on: PROXY_API_KEY (admin)');
  });
});
