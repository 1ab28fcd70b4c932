// A partner system (an LA's case-management system) calling its send-exchange service with the
// stock `nats` npm package, from docs/partners.md alone: log in, register a child, request an
// EHC needs assessment, import extract rows, and read every reply and error.
//
//   SENDX_NATS_USER=la-856-client SENDX_NATS_PASSWORD=... node partner.mjs
//
// Environment (the same names the sendx processes use):
//   NATS_URL              nats://127.0.0.1:4222 (comma-separated for a cluster)
//   SENDX_NATS_USER       your client user, <kind>-<org>-client, e.g. la-856-client
//   SENDX_NATS_PASSWORD   its password (embedded server: $SENDX_DATA_DIR/nats-credentials.json)
//   SENDX_NATS_CA         partnership CA (PEM): TLS, server verified, handshake first
//   SENDX_NATS_CERT/KEY   your client certificate and key, where the servers require mutual TLS
//   SENDX_PARTNERSHIP_KEY optional: print the person key the services will publish for the child
//   SENDX_EXAMPLE_RUN     optional: a suffix making this run's record ids and case ids new
//
// Prints one JSON object per line: {"step", "subject", "request", "reply"} or {"step", "error"}.
// Exit status: 0 when every request was answered, 2 when the service did not answer (no
// responders or timeout), 1 when the connection itself failed.

import { createHmac } from "node:crypto";
import { connect, ErrorCode, JSONCodec, StringCodec } from "nats";

const env = process.env;
const user = env.SENDX_NATS_USER;
if (!user) {
  console.error("set SENDX_NATS_USER (e.g. la-856-client) and SENDX_NATS_PASSWORD");
  process.exit(1);
}
// the user name says whose client this is: <kind>-<org>-client
const org = user.match(/^[a-z]+-([A-Z0-9]+)-client$/)?.[1];
if (!org) {
  console.error(`SENDX_NATS_USER=${user}: expected <kind>-<org>-client, e.g. la-856-client`);
  process.exit(1);
}
const run = env.SENDX_EXAMPLE_RUN ? `-${env.SENDX_EXAMPLE_RUN}` : "";
const TIMEOUT_MS = 10_000;

function tlsOptions() {
  if (!env.SENDX_NATS_CA) return undefined;
  const tls = { caFile: env.SENDX_NATS_CA, handshakeFirst: true };
  if (env.SENDX_NATS_CERT) Object.assign(tls, { certFile: env.SENDX_NATS_CERT, keyFile: env.SENDX_NATS_KEY });
  return tls;
}

/** The person key, exactly as services/identity.py derives it (docs/partners.md). */
function personKey(nhsNumber, partnershipKey) {
  const digits = String(nhsNumber).replace(/[ -]/g, "");
  const mac = createHmac("sha256", Buffer.from(partnershipKey, "utf8")).update(digits, "ascii");
  return "p_" + mac.digest("hex").slice(0, 32);
}

function print(line) {
  console.log(JSON.stringify(line));
}

const json = JSONCodec();
const text = StringCodec();

/** One request, its reply printed; a NATS-level failure (no service) stops the example. */
async function request(nc, step, command, body) {
  const subject = `send.cmd.${org}.${command}`;
  const data = typeof body === "string" ? text.encode(body) : json.encode(body);
  try {
    const msg = await nc.request(subject, data, { timeout: TIMEOUT_MS });
    const reply = json.decode(msg.data);
    print({ step, subject, request: body, reply });
    return reply;
  } catch (err) {
    const why = err.code === ErrorCode.NoResponders
      ? `no responders on ${subject}: the ${org} service is not running; nothing was recorded, send it again later`
      : err.code === ErrorCode.Timeout
        ? `no reply on ${subject} within ${TIMEOUT_MS} ms; resend with the same record_id (it is recorded once)`
        : `${subject}: ${err.message}`;
    print({ step, subject, error: why, code: String(err.code ?? "") });
    await nc.close();
    process.exit(2);
  }
}

let nc;
try {
  nc = await connect({
    servers: (env.NATS_URL ?? "nats://127.0.0.1:4222").split(","),
    user,
    pass: env.SENDX_NATS_PASSWORD,
    inboxPrefix: `_INBOX.${user}`, // required: you may subscribe only to your own inbox
    tls: tlsOptions(),
    name: `node-partner-${user}`,
    maxReconnectAttempts: 10,
  });
} catch (err) {
  print({ step: "connect", error: `cannot log in to ${env.NATS_URL} as ${user}: ${err.message}` });
  process.exit(1);
}
print({ step: "connected", server: nc.getServer(), user, inbox_prefix: `_INBOX.${user}` });

const child = { nhs_number: "999 000 0018", given_name: "Ada", family_name: "Example", born_on: "2012-03-09" };
if (env.SENDX_PARTNERSHIP_KEY) {
  print({ step: "person_key", person_key: personKey(child.nhs_number, env.SENDX_PARTNERSHIP_KEY) });
}
const caseId = `${org}-NODE-1${run}`;

// 1. register the child; record_id makes the command idempotent
const register = { ...child, record_id: `node-register${run}` };
await request(nc, "register", "person.register", register);
// 2. the same command again: recorded once, the same event ids, duplicate: true
await request(nc, "register again", "person.register", register);
// 3. a request for an EHC needs assessment about the same child
await request(nc, "request assessment", "ehc.request_assessment", {
  record_id: `node-request${run}`, nhs_number: child.nhs_number, case_id: caseId,
  requested_on: "2025-01-13", requested_by: "parent",
});
// 4. extract rows in one import request: each row has its own record_id and command
await request(nc, "import", "import", {
  rows: [
    { record_id: `node-decide${run}`, command: "ehc.decide_assessment", case_id: caseId,
      decided_on: "2025-02-24", decision: "assess" },
    { record_id: `node-advice${run}`, command: "ehc.request_advice", case_id: caseId,
      advice_request_id: `${caseId}-A1`, requested_on: "2025-02-25", advice_giver: "health" },
    { record_id: `node-bad-nhs${run}`, command: "person.register", ...child, nhs_number: "999 000 0019" },
    { command: "person.register", ...child },
  ],
  row_numbers: [2, 3, 4, 5], // the rows' numbers in your own file, for the report
});
// 5. errors: every one is a reply naming the field, the reference or the rule
await request(nc, "unknown field", "ehc.decide_assessment", {
  case_id: caseId, decided_on: "2025-02-24", decision: "assess", colour: "red",
});
await request(nc, "bad value", "ehc.decide_assessment", {
  case_id: caseId, decided_on: "24/02/2025", decision: "maybe",
});
await request(nc, "rule", "ehc.decide_assessment", {
  case_id: `${org}-NO-SUCH-CASE`, decided_on: "2025-02-24", decision: "assess",
});
await request(nc, "unknown command", "ehc.make_plan", { case_id: caseId });
await request(nc, "not json", "ehc.decide_assessment", "case_id=1");
await nc.close();
