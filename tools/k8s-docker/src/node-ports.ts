import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A NodePort on this host: 127.0.0.1:<nodePort> forwards each new connection to one ready pod of the Service, picked at
 * random as kube-proxy's iptables rules pick (per connection, not per request: an HTTP keep-alive connection stays on
 * its pod). Written here because kube-proxy cannot run without a cluster; it is a plain TCP relay.
 */
export class NodePort {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly endpoints: () => string[],
  ) {}

  async listen(host = '127.0.0.1'): Promise<void> {
    const server = createServer((client) => {
      const targets = this.endpoints();
      if (targets.length === 0) {
        // What a client of a Service without ready endpoints sees: the connection is refused.
        client.destroy();
        return;
      }
      const target = targets[Math.floor(Math.random() * targets.length)]!;
      const [ip, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
      const upstream = connect({ host: ip, port });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.setNoDelay(true);
      }
      client.pipe(upstream).pipe(client);
      client.once('error', () => upstream.destroy());
      upstream.once('error', () => client.destroy());
      client.once('close', () => upstream.end());
      upstream.once('close', () => client.end());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new Error(`NodePort ${this.port} is in use on ${host} (something else holds it)`) : error),
      );
      server.listen(this.port, host, () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
