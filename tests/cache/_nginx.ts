/**
 * A real HTTP cache for the tests: Debian's nginx on a free loopback port, storing
 * what is PUT (WebDAV `dav_methods PUT`, `create_full_put_path on`) under
 * `<dir>/data/cache/` and serving it back, as a team would set it up (README "Shared
 * build cache"). Options add basic or bearer auth, a rate limit (to kill it in the
 * middle of a download), a fixed status for every request (a broken server) or no
 * WebDAV (a read-only server).
 */
import { join } from "node:path";

/** A running nginx. */
export interface Nginx {
  /** The cache's base URL: `http://127.0.0.1:<port>/cache`. */
  url: string;
  /** Where the cache's entries are on disk (`<data>/ac`, `<data>/cas`). */
  data: string;
  port: number;
  /** Stop it (fast shutdown: open connections are cut). */
  stop(): Promise<void>;
}

/** nginx's settings for one test. */
export interface NginxOptions {
  /** Reuse a directory (and its entries) from an earlier server. */
  dir?: string;
  basic?: { user: string; password: string };
  bearer?: string;
  /** nginx `limit_rate`, e.g. "256k". */
  limitRate?: string;
  /** Answer every request with this status. */
  status?: number;
  /** Serve GET only (PUT is refused with 405). */
  readOnly?: boolean;
}

/** Whether Debian's nginx is installed (the tests say how to get it otherwise). */
export function haveNginx(): boolean {
  try {
    return Deno.statSync("/usr/sbin/nginx").isFile;
  } catch {
    return false;
  }
}

/** Start nginx; resolves when it accepts connections. */
export async function startNginx(opts: NginxOptions = {}): Promise<Nginx> {
  if (!haveNginx()) throw new Error("nginx missing: apt-get install nginx (deno task setup)");
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "icenet-nginx-" });
  const data = join(dir, "data", "cache");
  await Deno.mkdir(data, { recursive: true });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const location: string[] = [];
  if (opts.status) location.push(`return ${opts.status};`);
  if (!opts.readOnly) {
    location.push("dav_methods PUT;", "create_full_put_path on;", "dav_access user:rw all:r;");
  }
  if (opts.limitRate) location.push(`limit_rate ${opts.limitRate};`);
  if (opts.basic) {
    await Deno.writeTextFile(
      join(dir, "htpasswd"),
      `${opts.basic.user}:{PLAIN}${opts.basic.password}\n`,
    );
    location.push(`auth_basic "icenet cache";`, `auth_basic_user_file ${dir}/htpasswd;`);
  }
  if (opts.bearer) {
    location.push(`if ($http_authorization != "Bearer ${opts.bearer}") { return 401; }`);
  }
  const conf = `
worker_processes 1;
daemon off;
${Deno.uid() === 0 ? "user root root;" : ""}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/data;
    location /cache/ {
      ${location.join("\n      ")}
    }
  }
}
`;
  await Deno.writeTextFile(join(dir, "nginx.conf"), conf);
  const child = new Deno.Command("/usr/sbin/nginx", {
    args: ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        const err = new TextDecoder().decode((await child.output()).stderr);
        throw new Error(`nginx did not start on port ${port}: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/cache`,
    data,
    port,
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        await child.output();
      })();
      return stopped;
    },
  };
}
