// verify.mjs checks one webhook delivery with the standardwebhooks reference
// library, as a receiver would. The Go tests of package webhook run it to
// prove that writepath's signatures verify outside writepath's own code.
//
// Usage: node verify.mjs CASE.json
//
// CASE.json holds {"secret": "whsec_...", "headers": {name: value},
// "body_base64": "..."}; the body is base64 so that its bytes arrive exactly.
//
// Exit status: 0 valid, 1 invalid (the library refused the delivery),
// 2 the verifier itself could not run (bad arguments or input).
import { readFileSync } from "node:fs";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

function readCase(path) {
	const parsed = JSON.parse(readFileSync(path, "utf8"));
	if (typeof parsed.secret !== "string" || typeof parsed.headers !== "object") {
		throw new Error("case needs a secret string and a headers object");
	}
	return {
		secret: parsed.secret,
		headers: parsed.headers,
		body: Buffer.from(parsed.body_base64 ?? "", "base64"),
	};
}

let input;
try {
	if (process.argv.length !== 3) {
		throw new Error("usage: node verify.mjs CASE.json");
	}
	input = readCase(process.argv[2]);
} catch (err) {
	console.error(`verifier: ${err.message}`);
	process.exit(2);
}

try {
	// jsonParse: false, so that only the signature and timestamp decide.
	new Webhook(input.secret).verify(input.body, input.headers, { jsonParse: false });
	console.log("valid");
	process.exit(0);
} catch (err) {
	if (err instanceof WebhookVerificationError) {
		console.log(`invalid: ${err.message}`);
		process.exit(1);
	}
	console.error(`verifier: ${err.message}`);
	process.exit(2);
}
