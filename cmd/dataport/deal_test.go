package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dataport/dataport/registry"
)

// client drives a running server as one participant.
type client struct {
	t   *testing.T
	url string
	key string
}

func (c client) call(method, path string, body any, headers ...string) map[string]any {
	c.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/pdf"
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		c.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	var out map[string]any
	json.Unmarshal(raw, &out)
	return out
}

// A foreign supplier's deal, run end to end through its agent against a running
// server: agency contract, listing, negotiation, signatures, settlement; the
// transaction certificate then verifies offline with `dataport verify -certificate`,
// and the regulator's trace holds every step.
func TestForeignDealCertificateVerifiesOffline(t *testing.T) {
	dir := t.TempDir()
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", dir, "-log-format", "text"}, nil)
	defer r.stop(t)
	op := client{t, r.url, regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())}
	member := func(body map[string]any, verify bool) (string, client, ed25519.PrivateKey, string) {
		p := op.call("POST", "/api/v1/participants", body)
		id := p["id"].(string)
		if verify {
			op.call("POST", "/api/v1/participants/"+id+"/kyc", map[string]any{"status": "verified"})
		}
		key := op.call("POST", "/api/v1/participants/"+id+"/api-keys", map[string]any{"name": "test"})["token"].(string)
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		sk := op.call("POST", "/api/v1/participants/"+id+"/signing-keys", map[string]any{"name": "contracts", "public_key": base64.StdEncoding.EncodeToString(pub)})
		return id, client{t, r.url, key}, priv, sk["id"].(string)
	}
	uscc := func(first17 string) string {
		c, _ := registry.CompleteUSCC(first17)
		return c
	}
	supplierID, supplier, supplierKey, supplierKeyID := member(map[string]any{"legal_name": map[string]any{"en": "Nordhav Energy Data AS"},
		"jurisdiction": "NO", "kind": "foreign", "registration_number": "923456781", "roles": []string{"supplier"}}, true)
	agentID, agent, agentKey, agentKeyID := member(map[string]any{"legal_name": map[string]any{"zh": "上海浦江国际数据服务有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc("91310101MA1G8PJ03"), "roles": []string{"agent"}}, true)
	buyerID, buyer, buyerKey, buyerKeyID := member(map[string]any{"legal_name": map[string]any{"zh": "华东证券股份有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc("91310000132200821"), "roles": []string{"buyer"}}, true)
	op.call("PUT", "/api/v1/participants/"+agentID+"/whitelist", map[string]any{"reference": "MOFCOM-2026-17", "valid_until": "2030-12-31"})
	sign := func(priv ed25519.PrivateKey, keyID, doc string) map[string]any {
		return map[string]any{"key_id": keyID, "signature": base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(doc)))}
	}

	// The agency contract: proposed, signed by both, certified.
	c := agent.call("POST", "/api/v1/agency-contracts", map[string]any{"supplier_id": supplierID, "agent_id": agentID,
		"categories": []string{"energy"}, "valid_from": "2026-01-01", "valid_until": "2030-12-31"})
	cid, doc := c["id"].(string), c["document"].(string)
	supplier.call("POST", "/api/v1/agency-contracts/"+cid+"/signatures", sign(supplierKey, supplierKeyID, doc))
	agent.call("POST", "/api/v1/agency-contracts/"+cid+"/signatures", sign(agentKey, agentKeyID, doc))
	op.call("POST", "/api/v1/agency-contracts/"+cid+"/certify", nil)

	// The agent lists the supplier's product.
	report := agent.call("POST", "/api/v1/attachments?name=assessment.pdf", []byte("%PDF third-party compliance assessment"))
	p := agent.call("POST", "/api/v1/products", map[string]any{"supplier_id": supplierID, "details": map[string]any{
		"type": "dataset", "title": map[string]any{"zh": "北海原油产量", "en": "North Sea crude output"}, "summary": map[string]any{"en": "Monthly"},
		"category": "energy", "delivery_modes": []string{"api", "file"}, "scenarios": []string{"research"}, "source": "enterprise",
		"grade": "general", "sublevel": 1, "pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "NO",
		"rights":      map[string]any{"holding": true, "processing_use": true, "product_operation": true},
		"price_plans": []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": 2_000_000, "currency": "CNY"}}},
		"attachments": []any{map[string]any{"kind": "compliance_report", "sha256": report["sha256"]}}}})
	pid := p["id"].(string)
	// The agent uploads the data with dataport put, one file interrupted and resumed,
	// and seals the revision's manifest.
	files := t.TempDir()
	crude := make([]byte, 3<<20+5)
	rand.Read(crude)
	os.MkdirAll(filepath.Join(files, "2026"), 0o755)
	os.WriteFile(filepath.Join(files, "2026", "crude-output.bin"), crude, 0o644)
	os.WriteFile(filepath.Join(files, "README.md"), []byte("# 北海原油产量\nMonthly output by field.\n"), 0o644)
	cli := func(key string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, env(map[string]string{"DATAPORT_URL": r.url, "DATAPORT_KEY": key}), &out, &errOut)
		if err != nil {
			return out.String() + errOut.String(), err
		}
		return out.String(), nil
	}
	if out, err := cli(agent.key, "put", "-product", pid, "-revision", "1", "-chunk", "1048576", "-seal", files); err != nil ||
		!strings.Contains(out, "sealed revision 1: 2 files") {
		t.Fatalf("dataport put: %v\n%s", err, out)
	}
	agent.call("POST", "/api/v1/products/"+pid+"/submit", nil)
	op.call("POST", "/api/v1/products/"+pid+"/review", nil)
	op.call("POST", "/api/v1/products/"+pid+"/approve", nil)

	// The deal, through the agent.
	op.call("POST", "/api/v1/participants/"+buyerID+"/funding", map[string]any{"amount": map[string]any{"amount": 5_000_000, "currency": "CNY"}},
		"Idempotency-Key", "stmt-1")
	d := buyer.call("POST", "/api/v1/deals", map[string]any{"product_id": pid, "plan": 0, "scenario": "research", "purpose": "academic", "delivery_mode": "file"})
	id := d["id"].(string)
	if d["provider_id"] != agentID {
		t.Fatalf("provider %v, want the agent", d["provider_id"])
	}
	draft := agent.call("GET", "/api/v1/deals/"+id+"/contract", nil)["document"].(string)
	agent.call("POST", "/api/v1/deals/"+id+"/agree", sign(agentKey, agentKeyID, draft), "Idempotency-Key", "agree-1")
	contract := buyer.call("GET", "/api/v1/deals/"+id, nil)["contract"].(string)
	buyer.call("POST", "/api/v1/deals/"+id+"/verify", sign(buyerKey, buyerKeyID, contract))
	agent.call("POST", "/api/v1/deals/"+id+"/finalize", nil)

	// The buyer downloads with dataport get: without the key it is refused; a partial
	// download resumes; both files check against the filed manifest, and having
	// delivered them releases the escrow.
	got := t.TempDir()
	if _, err := cli("", "get", "-deal", id, "-o", filepath.Join(got, "x"), "README.md"); err == nil {
		t.Fatal("a download without a key")
	}
	os.WriteFile(filepath.Join(got, "crude.bin.part"), crude[:1<<20], 0o644)
	os.WriteFile(filepath.Join(got, "crude.bin.part.etag"), []byte(`"`+sha256hex(crude)+`"`), 0o644)
	for name, p := range map[string]string{"crude.bin": "2026/crude-output.bin", "README.md": "README.md"} {
		out, err := cli(buyer.key, "get", "-deal", id, "-o", filepath.Join(got, name), p)
		if err != nil || !strings.Contains(out, "matches the filed manifest") {
			t.Fatalf("dataport get %s: %v\n%s", p, err, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(got, "crude.bin")); !bytes.Equal(b, crude) {
		t.Fatal("the resumed download differs from the upload")
	}
	if done := buyer.call("GET", "/api/v1/deals/"+id, nil); done["settled"] != "released" {
		t.Fatalf("deal after delivery: %v", done)
	}
	commission := agent.call("GET", "/api/v1/participants/"+agentID+"/balances", nil)["items"].([]any)
	if len(commission) != 1 || commission[0].(map[string]any)["balance"].(map[string]any)["amount"] != float64(100_000) {
		t.Fatalf("the agent's commission: %v", commission)
	}

	// The certificate, offline.
	cert := buyer.call("GET", "/api/v1/deals/"+id+"/certificate?wait=30", nil)
	if log, _ := cert["certificate"].(map[string]any)["delivery_log"].([]any); len(log) != 2 {
		t.Fatalf("the certificate's delivery log: %v", cert["certificate"])
	}
	raw, _ := json.Marshal(cert)
	file := filepath.Join(t.TempDir(), "certificate.json")
	os.WriteFile(file, raw, 0o600)
	vkey := cert["verifier_key"].(string)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"verify", "-key", vkey, "-certificate", file}, env(nil), &out, &errOut); err != nil {
		t.Fatalf("verify: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "certificate: signed by the exchange and filed as entry") || !strings.Contains(out.String(), "OK") {
		t.Fatalf("verify said %q", out.String())
	}
	// A certificate with another price does not verify.
	forged := strings.Replace(string(raw), `"amount\":2000000`, `"amount\":200`, 1)
	if forged == string(raw) {
		t.Fatal("the test could not alter the certificate")
	}
	os.WriteFile(file, []byte(forged), 0o600)
	if err := run(context.Background(), []string{"verify", "-key", vkey, "-certificate", file}, env(nil), &out, &errOut); err == nil {
		t.Fatal("an altered certificate verifies")
	}

	// The regulator's trace of the deal holds every step.
	trace := op.call("GET", "/api/v1/trace?subject="+id, nil)
	var steps []string
	for _, f := range trace["items"].([]any) {
		steps = append(steps, f.(map[string]any)["type"].(string))
	}
	want := "trade.requested compliance.assessed compliance.assessed trade.agreed trade.verified trade.finalized trade.used delivery.started delivery.completed trade.used delivery.started delivery.completed trade.released trade.certified"
	if strings.Join(steps, " ") != want {
		t.Fatalf("trace: %s\nwant %s", strings.Join(steps, " "), want)
	}
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
