// Eclipse Thingweb node-wot 0.9.2 (@node-wot/core + @node-wot/binding-http)
// as a WoT client of iotkdc's Thing Directory, run by
// tests/integration/test_tdd_nodewot.sh:
//
//   node client.js BASE CA_PEM A_CERT A_KEY B_CERT B_KEY
//
// BASE is https://127.0.0.1:PORT; A and B are two people's client
// certificates issued by `iotkdc user cert`. Every step prints one line
// "ok: ..." and asserts what it got; the first mismatch prints
// "FAIL: ..." on stderr and exits 1.
//
// Client certificates: node-wot 0.9.2's HttpClient builds its own
// https.Agent in its constructor with only { rejectUnauthorized } (no
// cert, key or ca; HttpConfig has no field for them, and the Servient's
// credentials are only basic/bearer/apikey/oauth2 headers), and it does
// not use https.globalAgent. The narrowest workaround is its protected
// extension point: a subclass of HttpClient whose _fetch() puts our own
// https.Agent (the user's certificate and key, the KDC's CA as the only
// trust anchor, TLS 1.3 only, server certificate verified) on each
// request before node-fetch sends it. Everything else (URI templates,
// percent-encoding of ids, content types, methods, status checks, TD
// validation with ajv) is node-wot's own code.
//
// Merge patch: node-wot 0.9.2's ContentSerdes has no codec for
// application/merge-patch+json, the content type of the directory's
// partiallyUpdateThing form; it then "passes through" value.toString(),
// i.e. sends the body "[object Object]" (the directory answers 400 "not
// JSON"). We register node-wot's own JsonCodec for that media type
// through its public API (servient.addMediaType()), as a node-wot user
// would; docs/traps.md.
"use strict";
const fs = require("fs");
const https = require("https");
const { Servient, JsonCodec } = require("@node-wot/core");
const { HttpClient, HttpsClientFactory } = require("@node-wot/binding-http");

const [base, caFile, aCert, aKey, bCert, bKey] = process.argv.slice(2);
if (bKey === undefined) {
	console.error("usage: client.js BASE CA A_CERT A_KEY B_CERT B_KEY");
	process.exit(2);
}
const ca = fs.readFileSync(caFile);

function fail(msg) {
	console.error("FAIL: " + msg);
	process.exit(1);
}
function ok(msg) {
	console.log("ok: " + msg);
}
function eq(got, want, what) {
	const g = JSON.stringify(got), w = JSON.stringify(want);
	if (g !== w)
		fail(`${what}: got ${g}, want ${w}`);
}

// What the TLS layer negotiated, for every connection the agents opened.
const tls = { conns: 0, protocols: new Set(), peerCertOk: 0 };

function agentFor(cert, key) {
	const opts = { ca, minVersion: "TLSv1.3", maxVersion: "TLSv1.3",
	    rejectUnauthorized: true, keepAlive: false };
	if (cert !== undefined) {
		opts.cert = fs.readFileSync(cert);
		opts.key = fs.readFileSync(key);
	}
	const agent = new https.Agent(opts);
	const create = agent.createConnection.bind(agent);
	agent.createConnection = (o, cb) => {
		const s = create(o, cb);
		s.once("secureConnect", () => {
			tls.conns++;
			tls.protocols.add(s.getProtocol());
			if (s.authorized)
				tls.peerCertOk++;
		});
		return s;
	};
	return agent;
}

class MtlsHttpClient extends HttpClient {
	constructor(agent) {
		super(null, true);
		this.mtlsAgent = agent;
	}
	_fetch(request) {
		request.agent = this.mtlsAgent;
		return super._fetch(request);
	}
}

class MtlsHttpsClientFactory extends HttpsClientFactory {
	constructor(agent) {
		super(null);
		this.agent = agent;
	}
	getClient() {
		return new MtlsHttpClient(this.agent);
	}
}

async function wotFor(cert, key) {
	const agent = agentFor(cert, key);
	const s = new Servient();
	s.addMediaType(new JsonCodec("application/merge-patch+json"));
	s.addClientFactory(new MtlsHttpsClientFactory(agent));
	const WoT = await s.start();
	return { s, WoT, agent };
}

// A TD 1.1 (not 1.0) with an id: the directory validates it.
function td(id, title) {
	const t = {
		"@context": "https://www.w3.org/2022/wot/td/v1.1",
		title,
		securityDefinitions: { basic_sc: { scheme: "basic", in: "header" } },
		security: "basic_sc",
		properties: { status: { type: "string",
		    forms: [{ href: "https://lamp.example.com/status" }] } },
	};
	if (id !== undefined)
		t.id = id;
	return t;
}

async function value(out) {
	return out === undefined ? undefined : await out.value();
}

async function listIds(dir) {
	const out = await dir.readProperty("things");
	const v = await out.value();
	if (!Array.isArray(v))
		fail(`things is not an array: ${JSON.stringify(v).slice(0, 200)}`);
	return v.map((t) => t.id);
}

async function main() {
	const A = await wotFor(aCert, aKey);
	const B = await wotFor(bCert, bKey);
	const N = await wotFor(undefined, undefined);
	const wk = base + "/.well-known/wot";

	// ---- the directory's own TD, public, consumed as is ---------------
	const dtd = await N.WoT.requestThingDescription(wk);
	eq(dtd.id, "urn:iotkdc:directory", "directory TD id");
	eq(dtd["@type"], "ThingDirectory", "directory TD @type");
	eq(dtd.base, base + "/", "directory TD base");
	const dir = await A.WoT.consume(dtd);
	for (const a of ["createThing", "createAnonymousThing", "retrieveThing",
	    "updateThing", "partiallyUpdateThing", "deleteThing"])
		if (dir.getThingDescription().actions[a] === undefined)
			fail(`consumed directory has no action ${a}`);
	ok("requestThingDescription(/.well-known/wot) without a certificate: " +
	    "the directory TD passes node-wot's TD 1.1 schema and is consumed");

	// ---- no certificate: the gated routes refuse node-wot -------------
	const ndir = await N.WoT.consume(dtd);
	let refused = null;
	try {
		await (await ndir.readProperty("things")).value();
	} catch (e) {
		refused = e.message;
	}
	// node-wot reports only the status text
	eq(refused, "Client error: Unauthorized",
	    "things without a client certificate");
	ok(`readProperty things without a client certificate refused (${refused})`);

	// ---- CRUD with A's certificate ------------------------------------
	const id1 = "urn:ex:nodewot:lamp-1/a?b=c#d";	// node-wot percent-encodes
	const id2 = "urn:ex:nodewot:lamp-2";
	eq(await listIds(dir), [], "A's list before");
	await dir.invokeAction("createThing", td(id1, "Lamp 1"),
	    { uriVariables: { id: id1 } });
	await dir.invokeAction("createThing", td(id2, "Lamp 2"),
	    { uriVariables: { id: id2 } });
	const r1 = await value(await dir.invokeAction("retrieveThing", undefined,
	    { uriVariables: { id: id1 } }));
	eq([r1.id, r1.title], [id1, "Lamp 1"], "retrieveThing id1");
	if (!Array.isArray(r1["@context"]) ||
	    !r1["@context"].includes("https://www.w3.org/2022/wot/discovery"))
		fail(`retrieved TD not enriched: ${JSON.stringify(r1["@context"])}`);
	if (typeof r1.registration?.created !== "string")
		fail(`no registration.created: ${JSON.stringify(r1.registration)}`);
	ok(`createThing x2 (PUT, id with '/?=#' percent-encoded by node-wot), retrieveThing: "${r1.title}", Enriched TD`);

	eq(await listIds(dir), [id1, id2].sort(), "readProperty things");
	ok("readProperty things: 2 TDs, ordered by id");

	// the same through WoT.exploreDirectory (each listed TD validated)
	const proc = await A.WoT.exploreDirectory(wk);
	const seen = [];
	for await (const t of proc)
		seen.push(t.title);
	if (proc.error !== undefined)
		fail(`exploreDirectory: ${proc.error.message ?? proc.error}`);
	eq(seen, ["Lamp 1", "Lamp 2"], "exploreDirectory titles");
	ok(`exploreDirectory: ${seen.length} TDs (${seen.join(", ")}), each a valid TD for node-wot`);

	// ---- partial update (merge patch), update --------------------------
	await dir.invokeAction("partiallyUpdateThing",
	    { title: "Lamp 1 patched", description: "by node-wot",
	      properties: { status: { readOnly: true } } },
	    { uriVariables: { id: id1 } });
	const p1 = await value(await dir.invokeAction("retrieveThing", undefined,
	    { uriVariables: { id: id1 } }));
	eq([p1.title, p1.description, p1.properties.status.readOnly,
	    p1.properties.status.forms[0].href],
	    ["Lamp 1 patched", "by node-wot", true,
	     "https://lamp.example.com/status"], "after partiallyUpdateThing");
	ok("partiallyUpdateThing (PATCH merge-patch+json): title, description, " +
	    "properties.status.readOnly merged, forms kept");

	await dir.invokeAction("updateThing", td(id2, "Lamp 2 replaced"),
	    { uriVariables: { id: id2 } });
	const u2 = await value(await dir.invokeAction("retrieveThing", undefined,
	    { uriVariables: { id: id2 } }));
	eq(u2.title, "Lamp 2 replaced", "after updateThing");
	ok(`updateThing (PUT of an existing id): "${u2.title}"`);

	// ---- anonymous ----------------------------------------------------
	await dir.invokeAction("createAnonymousThing", td(undefined, "Anon"));
	const after = await listIds(dir);
	const anon = after.filter((i) => i !== id1 && i !== id2);
	eq(after.length, 3, "list after createAnonymousThing");
	if (anon.length !== 1 || !/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(anon[0]))
		fail(`anonymous id: ${JSON.stringify(anon)}`);
	const ra = await value(await dir.invokeAction("retrieveThing", undefined,
	    { uriVariables: { id: anon[0] } }));
	eq([ra.id, ra.title], [anon[0], "Anon"], "retrieve the anonymous TD");
	ok(`createAnonymousThing (POST): new id ${anon[0]} in the list, retrievable`);

	// ---- B: a second person sees nothing of A's -----------------------
	const bdir = await B.WoT.consume(dtd);
	eq(await listIds(bdir), [], "B's things");
	const bproc = await B.WoT.exploreDirectory(wk);
	const bseen = [];
	for await (const t of bproc)
		bseen.push(t.id);
	if (bproc.error !== undefined)
		fail(`B exploreDirectory: ${bproc.error.message ?? bproc.error}`);
	eq(bseen, [], "B's exploreDirectory");
	let bget = null;
	try {
		await bdir.invokeAction("retrieveThing", undefined,
		    { uriVariables: { id: id1 } });
	} catch (e) {
		bget = e.message;
	}
	if (bget !== "Client error: Not Found")
		fail(`B retrieves A's TD: ${bget}`);
	let bdel = null;
	try {
		await bdir.invokeAction("deleteThing", undefined,
		    { uriVariables: { id: id1 } });
	} catch (e) {
		bdel = e.message;
	}
	if (bdel !== "Client error: Not Found")
		fail(`B deletes A's TD: ${bdel}`);
	// B's own TD is B's alone; A's list does not grow
	const idb = "urn:ex:nodewot:bob";
	await bdir.invokeAction("createThing", td(idb, "Bob's"),
	    { uriVariables: { id: idb } });
	eq(await listIds(bdir), [idb], "B's things after B's create");
	eq((await listIds(dir)).length, 3, "A's count after B's create");
	ok("second user: things [] and exploreDirectory [] of A's 3, retrieve/delete of A's TD 404; B's own TD listed for B only");

	// ---- delete ---------------------------------------------------------
	for (const i of [id1, id2, anon[0]])
		await dir.invokeAction("deleteThing", undefined,
		    { uriVariables: { id: i } });
	eq(await listIds(dir), [], "A's list after deleteThing x3");
	let gone = null;
	try {
		await dir.invokeAction("retrieveThing", undefined,
		    { uriVariables: { id: id1 } });
	} catch (e) {
		gone = e.message;
	}
	if (gone !== "Client error: Not Found")
		fail(`retrieve after delete: ${gone}`);
	eq(await listIds(bdir), [idb], "B's things after A's deletes");
	ok("deleteThing x3: A's list [], retrieve 404, B's TD untouched");

	eq([...tls.protocols], ["TLSv1.3"], "TLS versions");
	if (tls.conns < 10 || tls.peerCertOk !== tls.conns)
		fail(`TLS: ${tls.conns} connections, ${tls.peerCertOk} verified`);
	ok(`tls: ${tls.conns} connections, all TLSv1.3, server certificate verified against the KDC CA`);

	for (const w of [A, B, N]) {
		await w.s.shutdown();
		w.agent.destroy();
	}
}

main().then(() => process.exit(0),
    (e) => fail(e && e.stack ? e.stack : String(e)));
