import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's paths for the servers these tests start. A missing one fails the test: CI installs them all. */
const bin = {
  squid: '/usr/sbin/squid',
  squidHelpers: '/usr/lib/squid',
  ntlmAuth: '/usr/bin/ntlm_auth',
  winbindd: '/usr/sbin/winbindd',
  smbpasswd: '/usr/bin/smbpasswd',
  krb5kdc: '/usr/sbin/krb5kdc',
  kdb5Util: '/usr/sbin/kdb5_util',
  kadminLocal: '/usr/sbin/kadmin.local',
  kinit: '/usr/bin/kinit',
  openssl: '/usr/bin/openssl',
  unshare: '/usr/bin/unshare',
};

export function requireBinaries(...names: (keyof typeof bin)[]): void {
  for (const name of names) {
    try {
      accessSync(bin[name], constants.X_OK);
    } catch {
      throw new Error(`${bin[name]} is missing: install the Debian packages that .ci/run installs`);
    }
  }
}

/** The one test identity, known to every server. */
export const identity = { username: 'apifetch', password: 'Pw-s3cret-42' } as const;
export const realm = 'APIFETCH.TEST';
/** The NetBIOS name Samba answers NTLM as. */
export const ntlmDomain = 'PROXYHOST';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolve once `port` on 127.0.0.1 accepts connections; fail after `ms` or when `child` exits. */
async function listening(port: number, child: ChildProcess, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, '127.0.0.1');
      socket.once('connect', () => resolve(socket.destroy() && true));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Stop a server we started, by its pid: `signal`, then SIGKILL if it lingers. `unshare --fork` ignores SIGTERM while
 * it waits, so a namespace is stopped with SIGKILL: `--kill-child` then ends its first process, and with it every
 * process in the namespace.
 */
async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, signal);
  const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface Kdc {
  /** Environment for Kerberos clients and servers: this realm's krb5.conf. */
  env: Record<string, string>;
  keytab: string;
  /** kinit the test identity into `ccache` with `password`; false when the KDC refused it. */
  kinit(ccache: string, password: string): boolean;
  stop(): Promise<void>;
}

/** A real MIT KDC for `APIFETCH.TEST` in `dir` on a free loopback port, with the test user and `HTTP/localhost`. */
export async function startKdc(dir: string): Promise<Kdc> {
  requireBinaries('krb5kdc', 'kdb5Util', 'kadminLocal', 'kinit');
  const port = await freePort();
  // squid's Negotiate helper runs as the `proxy` user and reads krb5.conf and the keytab from here.
  chmodSync(dir, 0o755);
  const krb5Conf = join(dir, 'krb5.conf');
  const kdcConf = join(dir, 'kdc.conf');
  const keytab = join(dir, 'http.keytab');
  writeFileSync(
    krb5Conf,
    `[libdefaults]
  default_realm = ${realm}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
  dns_canonicalize_hostname = false
  udp_preference_limit = 1
[realms]
  ${realm} = {
    kdc = 127.0.0.1:${port}
  }
[domain_realm]
  localhost = ${realm}
`,
  );
  writeFileSync(
    kdcConf,
    `[kdcdefaults]
  kdc_ports = ${port}
  kdc_listen = 127.0.0.1:${port}
  kdc_tcp_listen = 127.0.0.1:${port}
[realms]
  ${realm} = {
    database_name = ${join(dir, 'principal')}
    key_stash_file = ${join(dir, 'stash')}
    acl_file = ${join(dir, 'kadm5.acl')}
  }
[logging]
  kdc = FILE:${join(dir, 'kdc.log')}
`,
  );
  const env = { KRB5_CONFIG: krb5Conf, KRB5_KDC_PROFILE: kdcConf };
  const run = (file: string, args: string[], input?: string) =>
    execFileSync(file, args, { env: { ...process.env, ...env }, input: input ?? '', stdio: 'pipe' });
  run(bin.kdb5Util, ['create', '-s', '-r', realm, '-P', `master-${port}`]);
  for (const query of [
    `addprinc -pw ${identity.password} ${identity.username}`,
    'addprinc -randkey HTTP/localhost',
    `ktadd -k ${keytab} HTTP/localhost`,
  ]) {
    run(bin.kadminLocal, ['-r', realm, '-q', query]);
  }
  chmodSync(keytab, 0o644);
  const child = spawn(bin.krb5kdc, ['-n', '-r', realm], { env: { ...process.env, ...env }, stdio: 'ignore' });
  await listening(port, child, 'krb5kdc');
  return {
    env,
    keytab,
    kinit(ccache, password) {
      try {
        execFileSync(bin.kinit, [`${identity.username}@${realm}`], {
          env: { ...process.env, ...env, KRB5CCNAME: `FILE:${ccache}` },
          input: `${password}\n`,
          stdio: 'pipe',
        });
        return true;
      } catch {
        return false;
      }
    },
    stop: () => stop(child),
  };
}

export type SquidScheme = 'basic' | 'digest' | 'ntlm' | 'negotiate';

export interface Squid {
  url: string;
  /** What squid logged per request: method, URL, the user it authenticated, the Proxy-Authorization scheme. */
  log(): { method: string; url: string; user: string; scheme: string; status: string }[];
  stop(): Promise<void>;
}

/**
 * squid on a free 127.0.0.1 port in `dir`, offering `schemes` in that order (squid lists its challenges in config
 * order), every one checked for real: Basic by basic_ncsa_auth, Digest by digest_file_auth, NTLM by Samba's ntlm_auth
 * through a winbindd of our own, Negotiate by negotiate_kerberos_auth against `kdc`. It runs in a private mount and
 * pid namespace: Samba's directories and /etc/passwd are the test's own there, so the machine's Samba state is never
 * touched, and stopping the namespace's first process ends winbindd and every helper with it.
 */
export async function startSquid(dir: string, schemes: SquidScheme[], kdc?: Kdc): Promise<Squid> {
  requireBinaries('squid', 'unshare');
  const port = await freePort();
  const { username, password } = identity;
  chmodSync(dir, 0o755);
  const logs = join(dir, 'logs');
  mkdirSync(logs, { mode: 0o777 });
  chmodSync(logs, 0o777);
  const auth: string[] = [];
  for (const scheme of schemes) {
    if (scheme === 'basic') {
      requireBinaries('openssl');
      const hash = execFileSync(bin.openssl, ['passwd', '-apr1', password], { encoding: 'utf8' }).trim();
      writeFileSync(join(dir, 'basic.pw'), `${username}:${hash}\n`, { mode: 0o644 });
      auth.push(`auth_param basic program ${bin.squidHelpers}/basic_ncsa_auth ${join(dir, 'basic.pw')}`);
      auth.push('auth_param basic realm apifetch', 'auth_param basic children 2');
    } else if (scheme === 'digest') {
      writeFileSync(join(dir, 'digest.pw'), `${username}:${password}\n`, { mode: 0o644 });
      auth.push(`auth_param digest program ${bin.squidHelpers}/digest_file_auth ${join(dir, 'digest.pw')}`);
      auth.push('auth_param digest realm apifetch', 'auth_param digest children 2');
    } else if (scheme === 'ntlm') {
      requireBinaries('ntlmAuth', 'winbindd', 'smbpasswd');
      auth.push(`auth_param ntlm program ${bin.ntlmAuth} --helper-protocol=squid-2.5-ntlmssp`);
      auth.push('auth_param ntlm children 4');
    } else {
      if (!kdc) throw new Error('Negotiate needs a KDC');
      auth.push(`auth_param negotiate program ${bin.squidHelpers}/negotiate_kerberos_auth -s HTTP/localhost@${realm}`);
      auth.push('auth_param negotiate children 4');
    }
  }
  writeFileSync(
    join(dir, 'squid.conf'),
    [
      `http_port 127.0.0.1:${port}`,
      'pid_filename none',
      `cache_log ${join(logs, 'cache.log')}`,
      'logformat apifetch %rm %ru %un %>Hs %{Proxy-Authorization}>h',
      `access_log stdio:${join(logs, 'access.log')} apifetch`,
      'buffered_logs off',
      'cache deny all',
      'cache_mem 8 MB',
      'shutdown_lifetime 0 seconds',
      `coredump_dir ${logs}`,
      'netdb_filename none',
      'pinger_enable off',
      ...auth,
      'acl authenticated proxy_auth REQUIRED',
      'http_access allow authenticated',
      'http_access deny all',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );

  const script = ['set -e'];
  if (schemes.includes('ntlm')) {
    const samba = {
      'etc-samba': '/etc/samba',
      'lib-samba': '/var/lib/samba',
      'run-samba': '/run/samba',
      'cache-samba': '/var/cache/samba',
      'log-samba': '/var/log/samba',
    };
    for (const own of Object.keys(samba)) mkdirSync(join(dir, own));
    mkdirSync(join(dir, 'lib-samba', 'private'));
    mkdirSync(join(dir, 'lib-samba', 'winbindd_privileged'));
    writeFileSync(
      join(dir, 'etc-samba', 'smb.conf'),
      `[global]
  workgroup = APIFETCH
  netbios name = ${ntlmDomain}
  server role = standalone server
  security = user
  passdb backend = tdbsam
  ntlm auth = ntlmv2-only
  disable netbios = yes
  log file = /var/log/samba/log.%m
`,
    );
    // The test user exists only in this namespace's /etc/passwd; squid's `proxy` user may use winbindd's pipe.
    writeFileSync(
      join(dir, 'passwd'),
      `${readFileSync('/etc/passwd', 'utf8')}${username}:x:59998:59998::/nonexistent:/usr/sbin/nologin\n`,
    );
    const groups = readFileSync('/etc/group', 'utf8');
    writeFileSync(
      join(dir, 'group'),
      /^winbindd_priv:/m.test(groups)
        ? groups.replace(/^(winbindd_priv:[^:]*:\d+:)(.*)$/m, (_, head: string, members: string) =>
            members ? `${head}${members},proxy` : `${head}proxy`,
          )
        : `${groups}winbindd_priv:x:59997:proxy\n`,
    );
    for (const [own, target] of Object.entries(samba)) script.push(`mount --bind ${join(dir, own)} ${target}`);
    script.push(
      `mount --bind ${join(dir, 'passwd')} /etc/passwd`,
      `mount --bind ${join(dir, 'group')} /etc/group`,
      'chgrp winbindd_priv /var/lib/samba/winbindd_privileged',
      'chmod 750 /var/lib/samba/winbindd_privileged',
      `printf '%s\\n%s\\n' '${password}' '${password}' | ${bin.smbpasswd} -a -s ${username} >/dev/null`,
      `${bin.winbindd} -F --no-process-group > ${join(logs, 'winbindd.log')} 2>&1 &`,
      'for i in $(seq 100); do wbinfo -p >/dev/null 2>&1 && break; sleep 0.1; done',
    );
  }
  script.push(`${bin.squid} -N -f ${join(dir, 'squid.conf')} > ${join(logs, 'squid.out')} 2>&1 &`, 'wait');
  writeFileSync(join(dir, 'run.sh'), `${script.join('\n')}\n`);

  const env = { ...process.env, ...(kdc ? { ...kdc.env, KRB5_KTNAME: kdc.keytab, KRB5RCACHEDIR: logs } : {}) };
  const child = spawn(
    bin.unshare,
    ['--mount', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', join(dir, 'run.sh')],
    {
      env,
      stdio: 'ignore',
    },
  );
  try {
    await listening(port, child, 'squid');
  } catch (error) {
    await stop(child, 'SIGKILL');
    let out = '';
    try {
      out = readFileSync(join(logs, 'cache.log'), 'utf8').slice(-2000);
    } catch {}
    throw new Error(`${(error as Error).message}\n${out}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    log() {
      let text = '';
      try {
        text = readFileSync(join(logs, 'access.log'), 'utf8');
      } catch {}
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [method = '', url = '', user = '', status = '', ...header] = line.split(' ');
          // squid escapes the logged header: only its scheme is kept.
          const scheme =
            decodeURIComponent(header.join(' '))
              .split(/[\s"]/)
              .find((word) => word && word !== '-') ?? '';
          return { method, url, user: decodeURIComponent(user), status, scheme };
        });
    },
    stop: () => stop(child, 'SIGKILL'),
  };
}

/** A temp dir for one server, removed by `remove`. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `apifetch-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
