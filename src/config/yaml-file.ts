import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { ConfigError } from './config-error';

/** Fails a configuration file with one line naming the variable, the file, where in it and what is wrong. */
export type FileFailure = (where: string, what: string) => never;

/** Reads a YAML configuration file named by `variable`; a file that cannot be read or parsed fails with one line. */
export function readYamlFile(variable: string, path: string): { doc: unknown; fail: FileFailure } {
  const fail: FileFailure = (where, what) => {
    throw new ConfigError([`Invalid configuration: ${variable}=${JSON.stringify(path)}: ${where} ${what}`]);
  };
  try {
    return { doc: load(readFileSync(path, 'utf8'), { filename: path }), fail };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return fail('the file', `cannot be read as YAML (${reason})`);
  }
}
