// client.js: bootstrap coap-node (npm, an LwM2M 1.0 client without DTLS)
// from the KDC's NoSec listener, then print what it stored in /0 and /1
// as one JSON line on stdout. Used by tests/integration/test_lwm2m_coapnode.sh.
//   node client.js EP HOST PORT
// Exit 0 after Finish; 1 on a refused /bs, an error, or no Finish in time.
'use strict';

const CoapNode = require('coap-node');
const SmartObject = require('smartobject');

const [ep, host, port] = process.argv.slice(2);
if (!ep || !host || !port) {
	process.stderr.write('usage: node client.js EP HOST PORT\n');
	process.exit(2);
}

// coap-node's TLV decoder (lwm2m-codec) already renders opaque resources
// as hex strings; a Buffer, should one appear, is printed as hex too.
function plain(v) {
	if (Buffer.isBuffer(v))
		return v.toString('hex');
	if (v && typeof v === 'object') {
		const o = {};
		for (const k of Object.keys(v))
			o[k] = plain(v[k]);
		return o;
	}
	return v;
}

const cn = new CoapNode(ep, new SmartObject());
const timer = setTimeout(() => {
	process.stderr.write('no Bootstrap-Finish within 20 s\n');
	process.exit(1);
}, 20000);

cn.on('error', (err) => process.stderr.write(`coap-node error: ${err}\n`));
cn.on('bootstrapped', () => {
	clearTimeout(timer);
	const so = cn.getSmartObject();
	const out = {
		security: plain(so.dumpSync('lwm2mSecurity') || {}),
		server: plain(so.dumpSync('lwm2mServer') || {}),
	};
	// coap-node now tries to register with the coaps:// URI it got,
	// which it cannot speak: we are done here.
	process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
});

cn.bootstrap(host, Number(port), (err, rsp) => {
	if (err) {
		process.stderr.write(`bootstrap request failed: ${err}\n`);
		process.exit(1);
	}
	if (rsp.status !== '2.04') {
		process.stderr.write(`bootstrap request answered ${rsp.status}\n`);
		process.exit(1);
	}
});
