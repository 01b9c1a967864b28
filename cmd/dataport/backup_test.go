package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
)

// A backup taken while the exchange runs and writes restores into a fresh data
// folder, database and blob store; the restored exchange serves, its log verifies and
// extends the checkpoint the backup recorded, every change acknowledged before the
// backup began is there, the books balance, and every deal file downloads with the
// SHA-256 its sealed manifest filed.
func TestBackupRestore(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		backupRestore(t, engine, false)
	})
}

// The same with the blobs in an S3 bucket (DATAPORT_TEST_S3).
func TestBackupRestoreS3(t *testing.T) {
	backupRestore(t, store.SQLite, true)
}

// exchangeFlags says where one exchange keeps its data.
type exchangeFlags struct {
	dir, db, blobs string
}

func (x exchangeFlags) args() []string {
	a := []string{"-data", x.dir}
	if x.db != "" {
		a = append(a, "-db", x.db)
	}
	if x.blobs != "" {
		a = append(a, "-blobs", x.blobs)
	}
	return a
}

func (x exchangeFlags) dsn() string {
	if x.db != "" {
		return x.db
	}
	return "sqlite:" + filepath.Join(x.dir, "dataport.db")
}

func backupRestore(t *testing.T, engine store.Engine, s3 bool) {
	ctx := context.Background()
	src := exchangeFlags{dir: t.TempDir()}
	dst := exchangeFlags{dir: filepath.Join(t.TempDir(), "restored")}
	if engine == store.Postgres {
		src.db = storetest.DSN(t, store.Postgres)
		dst.db = scratchDatabase(t)
	}
	if s3 {
		src.blobs, dst.blobs = scratchBucket(t), scratchBucket(t)
	}
	r := start(t, append([]string{"serve", "-addr", "127.0.0.1:0", "-log-format", "text"}, src.args()...), nil)
	stopped := false
	defer func() {
		if !stopped {
			r.stop(t)
		}
	}()
	vkey := regexp.MustCompile(`log_vkey=(\S+)`).FindStringSubmatch(r.stderr.String())[1]
	d := seedDeal(t, r)

	// Changes go on while the backup is taken: API keys (filings) and attachments
	// (new blobs, some stored after the snapshot).
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stopWriters := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer stopWriters() // before the server stops, when the test fails early
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if w == 1 {
					req, _ := http.NewRequest("POST", r.url+"/api/v1/attachments?name=note.pdf", strings.NewReader(fmt.Sprintf("%%PDF note %d", i)))
					req.Header.Set("Authorization", "Bearer "+d.supplier.key)
					req.Header.Set("Content-Type", "application/pdf")
					res, err := http.DefaultClient.Do(req)
					if err != nil || res.StatusCode != http.StatusCreated {
						t.Errorf("attachment under load: %v %v", err, res)
						return
					}
					res.Body.Close()
					continue
				}
				code, body, err := postJSON(r.url+"/api/v1/participants/"+d.buyerID+"/api-keys", d.op.key, fmt.Sprintf(`{"name":"load %d"}`, i))
				var k struct{ Key struct{ ID string } }
				json.Unmarshal(body, &k)
				if err != nil || code != http.StatusCreated || k.Key.ID == "" {
					t.Errorf("API key under load: %v %d %s", err, code, body)
					return
				}
				mu.Lock()
				acked = append(acked, k.Key.ID)
				mu.Unlock()
			}
		}()
	}
	waitFor := func(n int) {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			have := len(acked)
			mu.Unlock()
			if have >= n {
				return
			}
			if t.Failed() { // a writer failed
				t.FailNow()
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d changes acknowledged", have)
			}
		}
	}
	waitFor(5)
	mu.Lock()
	before := append([]string(nil), acked...) // acknowledged before the backup began: must be in it
	mu.Unlock()
	bk := filepath.Join(t.TempDir(), "backups", "b1")
	var out, errOut bytes.Buffer
	if err := run(ctx, append([]string{"admin", "backup", "-out", bk}, src.args()...), env(nil), &out, &errOut); err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut.String())
	}
	waitFor(len(before) + 5)
	stopWriters()
	t.Log(strings.TrimSpace(out.String()))

	var m backupManifest
	raw, err := os.ReadFile(filepath.Join(bk, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Engine != engine || m.Log.Size == 0 || m.Log.Checkpoint == "" || m.Filings < m.Log.Size || m.Referenced == 0 || m.Blobs < m.Referenced {
		t.Fatalf("manifest: %+v", m)
	}
	for _, f := range []string{backupLogKey, backupWebhookKey, "manifest.json"} {
		if st, err := os.Stat(filepath.Join(bk, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s in the backup: %v %v", f, st, err)
		}
	}
	// A backup is never overwritten.
	if err := run(ctx, append([]string{"admin", "backup", "-out", bk}, src.args()...), env(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("a second backup into %s: %v", bk, err)
	}

	// A damaged backup is refused, and the target stays empty.
	bad := filepath.Join(t.TempDir(), "damaged")
	copyTree(t, bk, bad)
	var someBlob string
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "blobs/") {
			someBlob = filepath.Join(bad, filepath.FromSlash(f.Path))
			break
		}
	}
	b, _ := os.ReadFile(someBlob)
	b[len(b)/2] ^= 1
	os.WriteFile(someBlob, b, 0o600)
	err = run(ctx, append([]string{"admin", "restore", "-in", bad}, dst.args()...), env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Fatalf("restore of a damaged backup: %v", err)
	}
	assertEmpty(t, dst)

	// A target that is not empty is refused, and keeps what it had: here the running
	// exchange's own data folder, database and blob store.
	srcFiles := treeOf(t, src.dir)
	err = run(ctx, append([]string{"admin", "restore", "-in", bk}, src.args()...), env(nil), io.Discard, io.Discard)
	if err == nil || dataport.KindOf(err) != dataport.KindConflict {
		t.Fatalf("restore over the running exchange: %v", err)
	}
	if after := treeOf(t, src.dir); after != srcFiles {
		t.Fatalf("a refused restore changed the data folder:\n%s\nthen\n%s", srcFiles, after)
	}

	// So is a blob store that holds blobs, before anything is written.
	full := dst
	if full.blobs = src.blobs; full.blobs == "" {
		full.blobs = filepath.Join(src.dir, "blobs")
	}
	err = run(ctx, append([]string{"admin", "restore", "-in", bk}, full.args()...), env(nil), io.Discard, io.Discard)
	if err == nil || dataport.KindOf(err) != dataport.KindConflict || !strings.Contains(err.Error(), "blob") {
		t.Fatalf("restore into a blob store that holds blobs: %v", err)
	}
	assertEmpty(t, dst)

	// The original stops (the restored one takes its keys and would sign the same log).
	r.stop(t)
	stopped = true

	out.Reset()
	if err := run(ctx, append([]string{"admin", "restore", "-in", bk}, dst.args()...), env(nil), &out, &errOut); err != nil {
		t.Fatalf("restore: %v\n%s", err, errOut.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	for _, f := range []string{"log.key", "webhook.key"} {
		if st, err := os.Stat(filepath.Join(dst.dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("restored %s: %v %v", f, st, err)
		}
	}
	r2 := start(t, append([]string{"serve", "-addr", "127.0.0.1:0", "-log-format", "text"}, dst.args()...), nil)
	if !strings.Contains(r2.stderr.String(), "log_vkey="+vkey) {
		t.Fatalf("the restored exchange signs with another key:\n%s", r2.stderr)
	}
	d.rebase(r2.url)

	// The log verifies entry by entry and extends the checkpoint in the manifest.
	since := filepath.Join(t.TempDir(), "backup.checkpoint")
	os.WriteFile(since, []byte(m.Log.Checkpoint), 0o644)
	var vout bytes.Buffer
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		vout.Reset()
		err := run(ctx, []string{"verify", "-key", vkey, "-entries", "-since", since, r2.url + "/log"}, env(nil), &vout, &vout)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify the restored log: %v\n%s", err, vout.String())
		}
	}
	if !strings.Contains(vout.String(), "consistent with the earlier checkpoint") {
		t.Fatalf("verify printed:\n%s", vout.String())
	}
	// Every key acknowledged before the backup began is there.
	have := map[string]bool{}
	var list struct{ Items []struct{ ID string } }
	code, body := get(t, r2.url+"/api/v1/participants/"+d.buyerID+"/api-keys?limit=1000", d.op.key)
	json.Unmarshal(body, &list)
	for _, k := range list.Items {
		have[k.ID] = true
	}
	for _, id := range before {
		if !have[id] {
			t.Fatalf("key %s, acknowledged before the backup, is not restored (%d %s)", id, code, body)
		}
	}
	// The deal's files download and check against the filed manifest.
	got := t.TempDir()
	for p, want := range d.files {
		var out bytes.Buffer
		// Bounded, so that a stuck server fails the test with its log.
		getting, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := run(getting, []string{"get", "-deal", d.dealID, "-o", filepath.Join(got, "f"), p},
			env(map[string]string{"DATAPORT_URL": r2.url, "DATAPORT_KEY": d.buyer.key}), &out, &out)
		cancel()
		if err != nil || !strings.Contains(out.String(), "matches the filed manifest") {
			t.Fatalf("get %s from the restored exchange: %v\n%s\nserver log:\n%s", p, err, out.String(), r2.stderr)
		}
		if b, _ := os.ReadFile(filepath.Join(got, "f")); !bytes.Equal(b, want) {
			t.Fatalf("%s differs after the restore", p)
		}
		os.Remove(filepath.Join(got, "f"))
	}
	if bal := d.buyer.call("GET", "/api/v1/participants/"+d.buyerID+"/balances", nil); fmt.Sprint(bal["items"]) != d.balances {
		t.Fatalf("the buyer's balances: %v, before the backup %s", bal["items"], d.balances)
	}
	r2.stop(t)

	// The books balance, read from the restored database itself.
	db, err := store.Open(ctx, dst.dsn(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tb, err := trade.New(db, nil, nil, nil, nil, trade.Options{}).TrialBalance(ctx, dataport.System)
	if err != nil {
		t.Fatal(err)
	}
	if len(tb) == 0 {
		t.Fatal("no postings restored")
	}
	for c, n := range tb {
		if n != 0 {
			t.Fatalf("the restored books do not balance in %s: %d", c, n)
		}
	}
}

// dealWorld is a finished deal on a running exchange.
type dealWorld struct {
	op, supplier, buyer client
	buyerID, dealID     string
	files               map[string][]byte // path in the revision → content
	balances            string            // the buyer's, once the deal settled
}

func (d *dealWorld) rebase(url string) {
	d.op.url, d.supplier.url, d.buyer.url = url, url, url
}

// seedDeal runs a domestic supplier's deal with files: listed, uploaded with dataport
// put and sealed, agreed, signed, finalised, one file delivered.
func seedDeal(t *testing.T, r *running) *dealWorld {
	t.Helper()
	d := &dealWorld{op: client{t, r.url, regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())}}
	member := func(body map[string]any) (string, client, ed25519.PrivateKey, string) {
		id := d.op.call("POST", "/api/v1/participants", body)["id"].(string)
		d.op.call("POST", "/api/v1/participants/"+id+"/kyc", map[string]any{"status": "verified"})
		key := d.op.call("POST", "/api/v1/participants/"+id+"/api-keys", map[string]any{"name": "test"})["token"].(string)
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		sk := d.op.call("POST", "/api/v1/participants/"+id+"/signing-keys", map[string]any{"name": "contracts", "public_key": base64.StdEncoding.EncodeToString(pub)})
		return id, client{t, r.url, key}, priv, sk["id"].(string)
	}
	uscc := func(first17 string) string {
		c, _ := registry.CompleteUSCC(first17)
		return c
	}
	sign := func(priv ed25519.PrivateKey, keyID, doc string) map[string]any {
		return map[string]any{"key_id": keyID, "signature": base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(doc)))}
	}
	var supplierID, supplierKeyID, buyerKeyID string
	var supplierKey, buyerKey ed25519.PrivateKey
	supplierID, d.supplier, supplierKey, supplierKeyID = member(map[string]any{"legal_name": map[string]any{"zh": "上海航运数据有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc("91310101MA1G8PJ03"), "roles": []string{"supplier"}})
	d.buyerID, d.buyer, buyerKey, buyerKeyID = member(map[string]any{"legal_name": map[string]any{"zh": "华东证券股份有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc("91310000132200821"), "roles": []string{"buyer"}})

	report := d.supplier.call("POST", "/api/v1/attachments?name=assessment.pdf", []byte("%PDF compliance assessment"))
	pid := d.supplier.call("POST", "/api/v1/products", map[string]any{"supplier_id": supplierID, "details": map[string]any{
		"type": "dataset", "title": map[string]any{"zh": "全球航运指数", "en": "Global shipping index"}, "summary": map[string]any{"en": "Daily"},
		"category": "shipping", "delivery_modes": []string{"file"}, "scenarios": []string{"research"}, "source": "enterprise",
		"grade": "general", "sublevel": 1, "pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "CN",
		"rights":      map[string]any{"holding": true, "processing_use": true, "product_operation": true},
		"price_plans": []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": 1_000_000, "currency": "CNY"}}},
		"attachments": []any{map[string]any{"kind": "compliance_report", "sha256": report["sha256"]}}}})["id"].(string)
	index := make([]byte, 1<<20+3)
	rand.Read(index)
	d.files = map[string][]byte{"2026/index.bin": index, "README.md": []byte("# 全球航运指数\nDaily.\n")}
	files := t.TempDir()
	for p, b := range d.files {
		os.MkdirAll(filepath.Dir(filepath.Join(files, p)), 0o755)
		os.WriteFile(filepath.Join(files, p), b, 0o644)
	}
	cli := func(key string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), args, env(map[string]string{"DATAPORT_URL": r.url, "DATAPORT_KEY": key}), &out, &out); err != nil {
			t.Fatalf("dataport %s: %v\n%s", args[0], err, out.String())
		}
		return out.String()
	}
	if out := cli(d.supplier.key, "put", "-product", pid, "-revision", "1", "-seal", files); !strings.Contains(out, "sealed revision 1: 2 files") {
		t.Fatalf("dataport put: %s", out)
	}
	d.supplier.call("POST", "/api/v1/products/"+pid+"/submit", nil)
	d.op.call("POST", "/api/v1/products/"+pid+"/review", nil)
	d.op.call("POST", "/api/v1/products/"+pid+"/approve", nil)

	d.op.call("POST", "/api/v1/participants/"+d.buyerID+"/funding", map[string]any{"amount": map[string]any{"amount": 3_000_000, "currency": "CNY"}},
		"Idempotency-Key", "stmt-1")
	d.dealID = d.buyer.call("POST", "/api/v1/deals", map[string]any{"product_id": pid, "plan": 0, "scenario": "research", "purpose": "academic", "delivery_mode": "file"})["id"].(string)
	draft := d.supplier.call("GET", "/api/v1/deals/"+d.dealID+"/contract", nil)["document"].(string)
	d.supplier.call("POST", "/api/v1/deals/"+d.dealID+"/agree", sign(supplierKey, supplierKeyID, draft), "Idempotency-Key", "agree-1")
	contract := d.buyer.call("GET", "/api/v1/deals/"+d.dealID, nil)["contract"].(string)
	d.buyer.call("POST", "/api/v1/deals/"+d.dealID+"/verify", sign(buyerKey, buyerKeyID, contract))
	d.supplier.call("POST", "/api/v1/deals/"+d.dealID+"/finalize", nil)
	if out := cli(d.buyer.key, "get", "-deal", d.dealID, "-o", filepath.Join(t.TempDir(), "README.md"), "README.md"); !strings.Contains(out, "matches the filed manifest") {
		t.Fatalf("dataport get: %s", out)
	}
	d.balances = fmt.Sprint(d.buyer.call("GET", "/api/v1/participants/"+d.buyerID+"/balances", nil)["items"])
	return d
}

// scratchDatabase creates an empty PostgreSQL database beside the test database and
// drops it when t ends: pg_dump names a dump's objects by their schema, which restore
// takes over in a database of its own.
func scratchDatabase(t *testing.T) string {
	t.Helper()
	base := storetest.RequirePostgres(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "dp_restore_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String()
}

// scratchBucket is a fresh prefix of the DATAPORT_TEST_S3 bucket, emptied when t ends.
func scratchBucket(t *testing.T) string {
	t.Helper()
	base := os.Getenv("DATAPORT_TEST_S3")
	if base == "" {
		testenv.Missing(t, "DATAPORT_TEST_S3 not set: set it to http://ACCESS:SECRET@host:port/bucket of an S3-compatible server to test backups of S3 blobs")
	}
	b := make([]byte, 6)
	rand.Read(b)
	u := strings.TrimSuffix(base, "/") + "/backup-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		cfg, err := blob.ParseS3URL(u)
		if err != nil {
			return
		}
		s, err := blob.OpenS3(context.Background(), cfg)
		if err != nil {
			return
		}
		var sums []string
		s.List(context.Background(), func(i blob.Info) error { sums = append(sums, i.SHA256); return nil })
		for _, sum := range sums {
			s.Delete(context.Background(), sum)
		}
	})
	return u
}

// assertEmpty checks that a refused restore left the target as it was: no data
// folder, no tables, no blobs.
func assertEmpty(t *testing.T, x exchangeFlags) {
	t.Helper()
	if _, err := os.Stat(x.dir); err == nil {
		t.Fatalf("a refused restore created %s:\n%s", x.dir, treeOf(t, x.dir))
	}
	if x.db != "" {
		db, err := sql.Open("pgx", x.db)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("a refused restore left %d tables (%v)", n, err)
		}
	}
	if x.blobs != "" {
		cfg, _ := blob.ParseS3URL(x.blobs)
		s, err := blob.OpenS3(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		s.List(context.Background(), func(blob.Info) error { n++; return nil })
		if n != 0 {
			t.Fatalf("a refused restore stored %d blobs", n)
		}
	}
}

// treeOf lists a folder's files with their sizes, leaving out the live database's
// own files, which a running exchange changes by itself.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "dataport.db") {
			return err
		}
		info, _ := d.Info()
		fmt.Fprintf(&b, "%s %d\n", strings.TrimPrefix(p, dir), info.Size())
		return nil
	})
	return b.String()
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pg_dump and pg_restore get a URL libpq reads: no pgx-only parameters, and the
// password in the environment rather than on the command line.
func TestLibpqURL(t *testing.T) {
	u, password, err := libpqURL("postgres://dp:s3cret@db.example:5432/exchange?sslmode=require&search_path=tenant_a&pool_max_conns=8")
	if err != nil || u != "postgres://dp@db.example:5432/exchange?sslmode=require" || password != "s3cret" {
		t.Fatalf("libpqURL: %q %q %v", u, password, err)
	}
}

// Without the PostgreSQL client programs a backup says what to install or set.
func TestPGToolMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := pgTool(env(map[string]string{"DATAPORT_PG_BIN": dir}), "pg_dump")
	if err == nil || !strings.Contains(err.Error(), "DATAPORT_PG_BIN="+dir+": no pg_dump there") {
		t.Fatalf("pgTool: %v", err)
	}
}
