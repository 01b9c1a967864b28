package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/registry"
)

// Two exchanges, each a `dataport serve` with its own data folder, database and log,
// trade with each other over the Dataspace Protocol: the consumer exchange's buyer
// reads the provider exchange's catalog, negotiates a contract with it, and pulls the
// data through a transfer. Each exchange knows the other as a registered participant
// holding an API key, and as a DSP peer with the key the other issued to it. The deal
// is a deal on the provider's exchange (assessed, paid from escrow, countersigned,
// delivered and settled) and a consumer negotiation on the consumer's: both logs file
// it, with the same contract hash, and both logs verify.
func TestTwoExchangesOverDSP(t *testing.T) {
	// Callbacks and pulls go to 127.0.0.1: the exchanges must be allowed to connect
	// to a private address, as webhooks are for local testing.
	args := func(dir string) []string {
		return []string{"serve", "-addr", "127.0.0.1:0", "-data", dir, "-log-format", "text", "-webhooks-allow-private"}
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	a := start(t, args(dirA), nil)
	defer a.stop(t)
	b := start(t, args(dirB), nil)
	defer b.stop(t)
	opA := client{t, a.url, regexp.MustCompile(`dp\.key_\S+`).FindString(a.stdout.String())}
	opB := client{t, b.url, regexp.MustCompile(`dp\.key_\S+`).FindString(b.stdout.String())}
	member := func(op client, body map[string]any) (string, client) {
		t.Helper()
		id := op.call("POST", "/api/v1/participants", body)["id"].(string)
		op.call("POST", "/api/v1/participants/"+id+"/kyc", map[string]any{"status": "verified"})
		key := op.call("POST", "/api/v1/participants/"+id+"/api-keys", map[string]any{"name": "dsp"})["token"].(string)
		return id, client{t, op.url, key}
	}
	uscc := func(first17 string) string {
		c, _ := registry.CompleteUSCC(first17)
		return c
	}

	// Exchange A: a supplier lists a product with its files.
	supplierID, supplier := member(opA, map[string]any{"legal_name": map[string]any{"zh": "上海港航数据有限公司", "en": "Shanghai Port Data Co."},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc("91310101MA1G8PJ03"), "roles": []string{"supplier"}})
	report := supplier.call("POST", "/api/v1/attachments?name=assessment.pdf", []byte("%PDF compliance assessment"))
	pid := supplier.call("POST", "/api/v1/products", map[string]any{"supplier_id": supplierID, "details": map[string]any{
		"type": "dataset", "title": map[string]any{"zh": "港口吞吐量", "en": "Port throughput"}, "summary": map[string]any{"en": "Monthly, by port"},
		"category": "shipping", "delivery_modes": []string{"file"}, "scenarios": []string{"research"}, "source": "enterprise",
		"grade": "general", "sublevel": 1, "pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "CN",
		"rights":      map[string]any{"holding": true, "processing_use": true, "product_operation": true},
		"price_plans": []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": 800_000, "currency": "CNY"}}},
		"attachments": []any{map[string]any{"kind": "compliance_report", "sha256": report["sha256"]}}}})["id"].(string)
	files := t.TempDir()
	data := make([]byte, 256<<10+3)
	rand.Read(data)
	os.WriteFile(filepath.Join(files, "throughput.bin"), data, 0o644)
	os.WriteFile(filepath.Join(files, "README.md"), []byte("# 港口吞吐量\nMonthly container throughput by port.\n"), 0o644)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"put", "-product", pid, "-revision", "1", "-seal", files},
		env(map[string]string{"DATAPORT_URL": a.url, "DATAPORT_KEY": supplier.key}), &out, &errOut); err != nil {
		t.Fatalf("dataport put: %v\n%s%s", err, out.String(), errOut.String())
	}
	supplier.call("POST", "/api/v1/products/"+pid+"/submit", nil)
	opA.call("POST", "/api/v1/products/"+pid+"/review", nil)
	opA.call("POST", "/api/v1/products/"+pid+"/approve", nil)

	// The exchanges register each other: on A, exchange B is a foreign buyer with money
	// in its account; on B, exchange A is a supplier. Each registers the other's
	// connector as a peer with the key the other issued to it.
	bOnA, bKeyOnA := member(opA, map[string]any{"legal_name": map[string]any{"en": "Nordic Data Exchange AS"},
		"jurisdiction": "NO", "kind": "foreign", "registration_number": "923456781", "roles": []string{"buyer"}})
	opA.call("POST", "/api/v1/participants/"+bOnA+"/funding", map[string]any{"amount": map[string]any{"amount": 2_000_000, "currency": "CNY"}},
		"Idempotency-Key", "dsp-funding-1")
	aOnB, aKeyOnB := member(opB, map[string]any{"legal_name": map[string]any{"zh": "上海数据交易所", "en": "Shanghai Data Exchange"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc("91310000MA1FL8TX1"), "roles": []string{"supplier"}})
	opA.call("POST", "/api/v1/dsp/peers", map[string]any{"participant_id": bOnA, "address": b.url + "/dsp", "token": aKeyOnB.key})
	opB.call("POST", "/api/v1/dsp/peers", map[string]any{"participant_id": aOnB, "address": a.url + "/dsp", "token": bKeyOnA.key})
	_, buyer := member(opB, map[string]any{"legal_name": map[string]any{"en": "Fjord Analytics AS"},
		"jurisdiction": "NO", "kind": "foreign", "registration_number": "987654325", "roles": []string{"buyer"}})

	// B's buyer reads A's catalog through B and asks for the product's offer.
	cat := buyer.call("GET", "/api/v1/dsp/peers/"+aOnB+"/catalog", nil)
	var offer map[string]any
	for _, d := range cat["datasets"].([]any) {
		ds := d.(map[string]any)
		if ds["@id"] == dsp.ProductIRI(pid) {
			offer = firstPolicy(t, ds)
			offer["target"] = ds["@id"]
		}
	}
	if offer == nil {
		t.Fatalf("A's catalog, read through B, has no %s: %v", dsp.ProductIRI(pid), cat)
	}
	n := buyer.call("POST", "/api/v1/dsp/consumer/negotiations", map[string]any{"peer_id": aOnB, "offer": offer})
	negID := n["id"].(string)
	dealID := strings.TrimPrefix(n["provider_pid"].(string), dsp.NegotiationPIDPrefix)
	if n["state"] != "REQUESTED" || dealID == n["provider_pid"] {
		t.Fatalf("the negotiation on B: %v", n)
	}
	// On A it is a deal like any other, requested by exchange B, assessed, money held.
	deal := supplier.call("GET", "/api/v1/deals/"+dealID, nil)
	if deal["buyer_id"] != bOnA || deal["state"] != "REQUESTED" || deal["outcome"] != "allow" {
		t.Fatalf("the deal on A: %v", deal)
	}

	// A's supplier agrees (its signature over the contract); B hears of it at its
	// callback; B's buyer verifies with the protocol's message; A finalizes.
	pub, priv := newSigningKey(t)
	kid := supplier.call("POST", "/api/v1/participants/"+supplierID+"/signing-keys", map[string]any{"name": "contracts", "public_key": pub})["id"].(string)
	draft := supplier.call("GET", "/api/v1/deals/"+dealID+"/contract", nil)["document"].(string)
	supplier.call("POST", "/api/v1/deals/"+dealID+"/agree", map[string]any{"key_id": kid, "signature": sign(priv, draft)})
	n = waitFor(t, buyer, "/api/v1/dsp/consumer/negotiations/"+negID, "AGREED")
	contractSHA := supplier.call("GET", "/api/v1/deals/"+dealID, nil)["contract_sha256"].(string)
	if n["contract_sha256"] != contractSHA || n["agreement_id"] != dsp.DealIRIPrefix+dealID {
		t.Fatalf("B's record of the agreement: %v; A's contract %s", n, contractSHA)
	}
	buyer.call("POST", "/api/v1/dsp/consumer/negotiations/"+negID+"/verify", map[string]any{})
	if d := supplier.call("GET", "/api/v1/deals/"+dealID, nil); d["state"] != "VERIFIED" || d["buyer_assent"] == nil {
		t.Fatalf("the deal on A after B's verification: %v", d)
	}
	supplier.call("POST", "/api/v1/deals/"+dealID+"/finalize", nil)
	waitFor(t, buyer, "/api/v1/dsp/consumer/negotiations/"+negID, "FINALIZED")

	// The transfer: A starts it at once, B pulls the files into its own store and
	// completes it, which confirms the delivery on A and releases the escrow.
	tr := buyer.call("POST", "/api/v1/dsp/consumer/transfers", map[string]any{"negotiation_id": negID})
	trID := tr["id"].(string)
	tr = waitFor(t, buyer, "/api/v1/dsp/consumer/transfers/"+trID, "COMPLETED")
	if tr["pull_state"] != "pulled" || len(tr["files"].([]any)) != 2 {
		t.Fatalf("the transfer on B: %v", tr)
	}
	if got := download(t, buyer, "/api/v1/dsp/consumer/transfers/"+trID+"/files/throughput.bin"); !bytes.Equal(got, data) {
		t.Fatal("the file pulled to B differs from the one A's supplier uploaded")
	}
	waitForField(t, supplier, "/api/v1/deals/"+dealID, "settled", "released")

	// Both logs file the deal, with the same contract hash, and both verify.
	onA := types(t, opA, dealID, contractSHA)
	for _, want := range []string{"trade.requested", "trade.agreed", "trade.verified", "trade.finalized", "delivery.started", "trade.released"} {
		if !slices.Contains(onA, want) {
			t.Errorf("A's log has no %s for the deal: %v", want, onA)
		}
	}
	onB := types(t, opB, negID, contractSHA)
	if !slices.ContainsFunc(onB, func(s string) bool { return strings.HasPrefix(s, "dsp.consumer_negotiation") }) {
		t.Errorf("B's log has no filing of the negotiation with the contract's hash %s: %v", contractSHA, onB)
	}
	for _, r := range []*running{a, b} {
		vkey := regexp.MustCompile(`log_vkey=(\S+)`).FindStringSubmatch(r.stderr.String())
		if vkey == nil {
			t.Fatalf("no verifier key in the log:\n%s", r.stderr)
		}
		time.Sleep(200 * time.Millisecond) // the integrator's next checkpoint
		var out bytes.Buffer
		if err := run(context.Background(), []string{"verify", "-key", vkey[1], r.url + "/log"}, env(nil), &out, io.Discard); err != nil ||
			!strings.HasSuffix(out.String(), "OK\n") {
			t.Fatalf("verify %s: %v\n%s", r.url, err, out.String())
		}
	}
}

// firstPolicy is a dataset's first ODRL offer.
func firstPolicy(t *testing.T, ds map[string]any) map[string]any {
	t.Helper()
	switch p := ds["hasPolicy"].(type) {
	case []any:
		if len(p) > 0 {
			return p[0].(map[string]any)
		}
	case map[string]any:
		return p
	}
	t.Fatalf("dataset without an offer: %v", ds)
	return nil
}

// waitFor reads path until its state is want (another exchange's message may take a
// moment to arrive), failing after a generous wait.
func waitFor(t *testing.T, c client, path, want string) map[string]any {
	t.Helper()
	return waitForField(t, c, path, "state", want)
}

func waitForField(t *testing.T, c client, path, field, want string) map[string]any {
	t.Helper()
	var got map[string]any
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = c.call("GET", path, nil); got[field] == want {
			return got
		}
	}
	t.Fatalf("%s: %s is not %s: %v", path, field, want, got)
	return nil
}

func download(t *testing.T, c client, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", c.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return b
}

// types lists the types of the filings about subject, in log order, that carry the
// contract's hash or name the subject's deal.
func types(t *testing.T, op client, subject, contractSHA string) []string {
	t.Helper()
	var out []string
	for _, f := range op.call("GET", "/api/v1/trace?subject="+subject, nil)["items"].([]any) {
		m := f.(map[string]any)
		raw, _ := json.Marshal(m["payload"])
		if strings.HasPrefix(m["type"].(string), "dsp.consumer_negotiation") && !strings.Contains(string(raw), contractSHA) {
			continue
		}
		out = append(out, m["type"].(string))
	}
	return out
}

func newSigningKey(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pub), priv
}

func sign(priv ed25519.PrivateKey, doc string) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(doc)))
}
