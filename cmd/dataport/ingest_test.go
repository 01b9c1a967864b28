package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/finance"
)

// dataport ingest against a running server: a merchant connects a shop, sends a
// CSV batch with a bad row (the report lists it; the command fails, the good rows
// are kept), a JSON-lines batch with -json, lists its batches; the operator acts
// for it with -merchant; wrong input fails with one line and nothing sent.
func TestIngestCommand(t *testing.T) {
	r, op, merchantID, merchantKey := merchantServer(t)
	merchant := merchantKey
	cli := cliAt(r.url)

	out, err := cli(merchant, "ingest", "connect", "-platform", "taobao", "-external-id", "A100", "-name", "冻品鲜生旗舰店")
	if err != nil || !regexp.MustCompile(`connected shp_\S+: taobao:A100 冻品鲜生旗舰店, merchant `+merchantID).MatchString(out) {
		t.Fatalf("ingest connect: %v\n%s", err, out)
	}
	if out, err = cli(merchant, "ingest", "shops"); err != nil || !strings.Contains(out, "A100") || !strings.Contains(out, "冻品鲜生旗舰店") {
		t.Fatalf("ingest shops: %v\n%s", err, out)
	}

	// Times an hour ago: the orders must not be in the future of the server's clock.
	at := time.Now().Add(-time.Hour).Format(time.RFC3339)
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "orders.csv")
	os.WriteFile(csvFile, []byte("order_id,shop,ordered_at,amount,currency,status\n"+
		"T1,A100,"+at+",12.30,CNY,paid\n"+
		"T2,A100,"+at+",12.345,CNY,paid\n"+
		"T3,A100,"+at+",99,CNY,shipped\n"), 0o644)
	out, err = cli(merchant, "ingest", csvFile)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 rows rejected") {
		t.Fatalf("a batch with a rejected row: %v", err)
	}
	if !regexp.MustCompile(`batch bat_\S+ attested in filing \d+: \d+ bytes, sha256 [0-9a-f]{64}`).MatchString(out) ||
		!strings.Contains(out, "3 rows: 2 accepted (2 new, 0 updated, 0 duplicates, 0 stale), 1 rejected") ||
		!strings.Contains(out, "line 3, amount (order T2): ") {
		t.Fatalf("ingest orders.csv:\n%s", out)
	}
	jsonlFile := filepath.Join(dir, "orders.ndjson")
	os.WriteFile(jsonlFile, []byte(`{"order_id":"J1","shop":"taobao:A100","ordered_at":"`+at+`","amount":"30","currency":"CNY","status":"paid"}`+"\n"), 0o644)
	out, err = cli(merchant, "ingest", "-json", jsonlFile)
	var rep finance.BatchReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Format != "jsonl" || rep.Inserted != 1 || rep.FilingSeq == 0 {
		t.Fatalf("ingest -json orders.ndjson: %v\n%s", err, out)
	}

	// The operator, for the merchant.
	out, err = cli(op.key, "ingest", "batches", "-merchant", merchantID)
	if err != nil || strings.Count(out, "bat_") != 2 || !strings.Contains(out, rep.ID) || !strings.Contains(out, rep.SHA256) {
		t.Fatalf("ingest batches: %v\n%s", err, out)
	}
	if _, err = cli(op.key, "ingest", "shops"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("the operator is no merchant: %v", err)
	}

	// Wrong input: one line, a failure, nothing sent.
	txt := filepath.Join(dir, "orders.txt")
	os.WriteFile(txt, []byte("T9,A100\n"), 0o644)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"ingest", txt}, "-format csv or -format jsonl"},
		{[]string{"ingest", "-format", "xml", csvFile}, `-format is csv or jsonl, not "xml"`},
		{[]string{"ingest", "-"}, "-format"},
		{[]string{"ingest", "-stream", csvFile}, "JSON lines, not CSV"},
		{[]string{"ingest"}, "one FILE"},
		{[]string{"ingest", filepath.Join(dir, "missing.csv")}, "no such file"},
		{[]string{"ingest", "connect", "-platform", "jd"}, "-external-id"},
		{[]string{"ingest", "-merchant", "prt_nobody", csvFile}, "404"},
	} {
		_, err := cli(merchant, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.says) || strings.Contains(oneLine(err), "\n") {
			t.Errorf("%v: %v, want an error saying %q", c.args, err, c.says)
		}
		if strings.Contains(err.Error(), "-format") && !errors.Is(err, errUsage) {
			t.Errorf("%v: %v is not a usage error", c.args, err)
		}
	}
	if out, err = cli(op.key, "ingest", "batches", "-merchant", merchantID); strings.Count(out, "bat_") != 2 {
		t.Fatalf("wrong input sent a batch: %v\n%s", err, out)
	}
}

// dataport ingest -stream - prints each chunk's report while standard input is
// still open, and the stream's report when it closes.
func TestIngestStreamCommand(t *testing.T) {
	r, _, merchantID, merchantKey := merchantServer(t)
	merchant := client{t, r.url, merchantKey}
	merchant.call("POST", "/api/v1/merchants/"+merchantID+"/shops", map[string]any{"platform": "taobao", "external_id": "A100", "name": "冻品鲜生旗舰店"})

	// Standard input is a pipe the test writes, as a platform's feed would.
	stdin, feed, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	saved := os.Stdin
	os.Stdin = stdin
	defer func() { os.Stdin = saved; stdin.Close() }()
	printed, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(context.Background(), []string{"ingest", "-stream", "-"}, env(map[string]string{"DATAPORT_URL": r.url, "DATAPORT_KEY": merchant.key}),
			stdout, io.Discard)
		stdout.Close()
		done <- err
	}()
	lines := bufio.NewReader(printed)
	next := func() string {
		t.Helper()
		got := make(chan string, 1)
		go func() {
			l, err := lines.ReadString('\n')
			if err != nil {
				l = fmt.Sprintf("reading the output: %v (%q)", err, l)
			}
			got <- l
		}()
		select {
		case l := <-got:
			return l
		case <-time.After(30 * time.Second): // a guard against hanging, not a measure
			t.Fatal("no line printed while the stream is open")
			return ""
		}
	}
	at := time.Now().Add(-time.Hour).Format(time.RFC3339)
	fmt.Fprintf(feed, `{"order_id":"S1","shop":"A100","ordered_at":%q,"amount":"10.00","currency":"CNY","status":"paid"}`+"\n", at)
	if l := next(); !regexp.MustCompile(`^chunk 1 attested in filing \d+: 1 row: 1 accepted \(1 new`).MatchString(l) {
		t.Fatalf("first chunk: %s", l)
	}
	fmt.Fprintf(feed, `{"order_id":"S2","shop":"A100","ordered_at":%q,"amount":"ten","currency":"CNY","status":"paid"}`+"\n", at)
	if l := next(); !strings.HasPrefix(l, "chunk 2 attested in filing ") || !strings.Contains(l, "1 rejected") {
		t.Fatalf("second chunk: %s", l)
	}
	if l := next(); !strings.HasPrefix(l, "  line 2, amount (order S2): ") {
		t.Fatalf("the rejected line: %s", l)
	}
	feed.Close()
	if l := next(); !regexp.MustCompile(`^stream str_\S+: 2 chunks, 2 rows: 1 accepted \(1 new, 0 updated, 0 duplicates, 0 stale\), 1 rejected; \d+ bytes, sha256 [0-9a-f]{64}`).MatchString(l) {
		t.Fatalf("the stream's report: %s", l)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "1 of 2 rows rejected") {
		t.Fatalf("a stream with a rejected row: %v", err)
	}
}

// merchantServer runs `dataport serve` for the rest of the test, with the
// operator's client and a registered merchant with a key of its own.
func merchantServer(t *testing.T) (r *running, op client, merchantID, merchantKey string) {
	t.Helper()
	r = start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-log-format", "text"}, nil)
	t.Cleanup(func() { r.stop(t) })
	op = client{t, r.url, regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())}
	p := op.call("POST", "/api/v1/participants", map[string]any{"legal_name": map[string]any{"zh": "嘉兴冻品鲜生食品有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": mustUSCC(t, "91330402MA2JD7F10"), "roles": []string{"merchant"}})
	merchantID = p["id"].(string)
	merchantKey = op.call("POST", "/api/v1/participants/"+merchantID+"/api-keys", map[string]any{"name": "merchant"})["token"].(string)
	return r, op, merchantID, merchantKey
}

// cliAt runs the command against the server at url with key, returning its output.
func cliAt(url string) func(key string, args ...string) (string, error) {
	return func(key string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, env(map[string]string{"DATAPORT_URL": url, "DATAPORT_KEY": key}), &out, &errOut)
		return out.String(), err
	}
}
