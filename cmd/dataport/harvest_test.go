package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dataport/dataport/registry"
)

// dataport harvest against a running server: a partner feed registered as a
// source is harvested with progress and its report printed; a second run finds
// nothing changed; -list shows the source; an unknown source fails clearly.
func TestHarvestCommand(t *testing.T) {
	dir := t.TempDir()
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", dir, "-log-format", "text"}, nil)
	defer r.stop(t)
	op := client{t, r.url, regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())}
	p := op.call("POST", "/api/v1/participants", map[string]any{"legal_name": map[string]any{"zh": "上海港数据服务有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": mustUSCC(t, "91310115MA1K2XH01"), "roles": []string{"supplier"}})
	platformID := p["id"].(string)
	op.call("POST", "/api/v1/participants/"+platformID+"/kyc", map[string]any{"status": "verified"})
	platform := client{t, r.url, op.call("POST", "/api/v1/participants/"+platformID+"/api-keys", map[string]any{"name": "feed"})["token"].(string)}
	report := platform.call("POST", "/api/v1/attachments?name=assessment.pdf", []byte("%PDF assessment of the partner feed"))

	feedFile := filepath.Join(t.TempDir(), "partner.jsonl")
	os.WriteFile(feedFile, []byte(`{"id": "PX-001", "title_zh": "上海港集装箱吞吐量", "title_en": "Shanghai port container throughput", "keywords": ["港口", "集装箱"], "license": "CC-BY-4.0", "update_frequency": "monthly"}
{"id": "PX-002", "title_en": "Berth occupancy, hourly", "license": "proprietary", "update_frequency": "hourly"}
{"id": "PX-003", "title_en": broken}
`), 0o644)
	src := op.call("POST", "/api/v1/harvest/sources", map[string]any{"name": "Port partner feed", "kind": "feed", "location": feedFile,
		"supplier_id": platformID, "settings": map[string]any{"scenarios": []string{"research"}, "compliance_report": report["sha256"],
			"category": "shipping", "auto_list": map[string]any{"enabled": true, "open_licence": true}}})
	id := src["id"].(string)

	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, env(map[string]string{"DATAPORT_URL": r.url, "DATAPORT_KEY": op.key}), &out, &errOut)
		return out.String(), err
	}
	out, err := cli("harvest", id)
	if err != nil || !strings.Contains(out, "records 2: 2 added, 0 changed, 0 unchanged, 0 removed, 1 failed; 1 listed, 1 queued for review") ||
		!strings.Contains(out, "partner.jsonl:3: line 3") {
		t.Fatalf("dataport harvest: %v\n%s", err, out)
	}
	if out, err = cli("harvest", id); err != nil || !strings.Contains(out, "2 unchanged") {
		t.Fatalf("second harvest: %v\n%s", err, out)
	}
	if out, err = cli("harvest", "-list"); err != nil || !strings.Contains(out, "Port partner feed") {
		t.Fatalf("harvest -list: %v\n%s", err, out)
	}
	if _, err = cli("harvest", "src_nope"); err == nil || !strings.Contains(err.Error(), "no harvest source") {
		t.Fatalf("an unknown source: %v", err)
	}
	runs := op.call("GET", "/api/v1/harvest/sources/"+id+"/runs", nil)["items"].([]any)
	if len(runs) != 2 || runs[1].(map[string]any)["added"] != float64(2) {
		t.Fatalf("runs: %v", runs)
	}
	// The listed product is found in the catalog, its harvest origin with it.
	found := op.call("GET", "/api/v1/products?q=吞吐量", nil)
	if !strings.Contains(jsonString(found), "PX-001") {
		t.Fatalf("search: %v", found)
	}
}

func mustUSCC(t *testing.T, first17 string) string {
	t.Helper()
	c, err := registry.CompleteUSCC(first17)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
