/**
 * A cache in a plain directory (`file:///mnt/shared/icenet-cache`, e.g. a shared
 * disk): `<dir>/ac/<hash>` and `<dir>/cas/<hash>`, the layout an nginx WebDAV cache
 * keeps under its root, so one directory can be served both ways. Writes go to a
 * temporary name and are renamed into place: readers on other machines see a whole
 * entry or none.
 */
import { join } from "node:path";
import {
  type Body,
  CacheUnavailable,
  type Kind,
  type PutData,
  type Transport,
} from "./transport.ts";

/** A directory cache. */
export class DirTransport implements Transport {
  readonly url: string;

  constructor(readonly dir: string) {
    this.url = `file://${dir}`;
  }

  async get(kind: Kind, hash: string): Promise<Body | undefined> {
    const path = this.#path(kind, hash);
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return this.#absent(kind, hash);
      throw new CacheUnavailable(`${this.url}/${kind}/${hash}`, (e as Error).message);
    }
    return { stream: f.readable, size: (await f.stat()).size };
  }

  async has(kind: Kind, hash: string): Promise<boolean> {
    try {
      return Deno.statSync(this.#path(kind, hash)).isFile;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return await this.#absent(kind, hash) ?? false;
      throw new CacheUnavailable(`${this.url}/${kind}/${hash}`, (e as Error).message);
    }
  }

  async put(kind: Kind, hash: string, data: PutData): Promise<void> {
    const path = this.#path(kind, hash);
    const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    try {
      // The base must exist (an unmounted shared disk is not silently replaced).
      await Deno.mkdir(join(this.dir, kind)).catch((e) => {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      });
      if (data instanceof Uint8Array) await Deno.writeFile(tmp, data);
      else await Deno.copyFile(data.path, tmp);
      await Deno.chmod(tmp, 0o644);
      await Deno.rename(tmp, path);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw new CacheUnavailable(`${this.url}/${kind}/${hash}`, (e as Error).message);
    }
  }

  /** An absent entry is a miss; an absent cache directory is a failure. */
  #absent(kind: Kind, hash: string): Promise<undefined> {
    try {
      Deno.statSync(this.dir);
    } catch (e) {
      throw new CacheUnavailable(`${this.url}/${kind}/${hash}`, (e as Error).message);
    }
    return Promise.resolve(undefined);
  }

  #path(kind: Kind, hash: string): string {
    return join(this.dir, kind, hash);
  }
}
