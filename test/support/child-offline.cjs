// Preloaded (`node -r`) into a bot started as a child process by a test: the outbound
// Bot Connector token is put in the SDK's app-token cache (as the production rig does in
// process), and DNS answers loopback only, so the child never leaves the machine.
const dns = require('node:dns');
const { AppCredentials } = require('botframework-connector');

const token = process.env.TEST_OUTGOING_TOKEN;
const appId = process.env.BOT_ID;
if (token && appId) AppCredentials.cache.set(`${appId}https://api.botframework.com-cache`, { accessToken: token, expiresOn: new Date(Date.now() + 3_600_000) });

const realLookup = dns.lookup;
dns.lookup = function lookup(host, options, callback) {
  if (['127.0.0.1', '::1', 'localhost'].includes(host)) return realLookup.call(dns, host, options, callback);
  const cb = typeof options === 'function' ? options : callback;
  process.nextTick(cb, Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host, syscall: 'getaddrinfo' }));
};
