package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// checkDir runs `dataport admin check` on a data folder.
func checkDir(dir string, args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"admin", "check", "-data", dir}, args...), env(nil), &out, &out)
	return out.String(), err
}

// copyDir copies a stopped server's data folder, for a test to break the copy.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o750)
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, src); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// sqlite opens a data folder's database behind the store's back, as someone
// tampering with it would.
func sqliteOf(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "dataport.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func execSQL(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// An exchange with filings, a funded buyer (postings), an attachment (a blob) passes `admin check`; each way of breaking it fails the check on
// the line that names it, and nothing else.
func TestAdminCheck(t *testing.T) {
	dir := t.TempDir()
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", dir, "-log-format", "text"}, nil)
	op := client{t, r.url, regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())}
	p := op.call("POST", "/api/v1/participants", map[string]any{"legal_name": map[string]any{"zh": "华东证券股份有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": mustUSCC(t, "91310000132200821"), "roles": []string{"buyer"}})
	buyer := p["id"].(string)
	op.call("POST", "/api/v1/participants/"+buyer+"/kyc", map[string]any{"status": "verified"})
	op.call("POST", "/api/v1/participants/"+buyer+"/funding", map[string]any{"amount": map[string]any{"amount": 5_000_000, "currency": "CNY"}},
		"Idempotency-Key", "stmt-1")
	att := op.call("POST", "/api/v1/attachments?name=report.pdf", []byte("%PDF a compliance report"))
	sum := att["sha256"].(string)
	waitCovered(t, r.url, op.key)
	r.stop(t)

	out, err := checkDir(dir, "-contents")
	if err != nil {
		t.Fatalf("admin check of a sound exchange: %v\n%s", err, out)
	}
	t.Logf("admin check of a sound exchange:\n%s", out)
	for _, want := range []string{"ok    filings: ", "ok    log: the stored tree rebuilds the signed root", "ok    checkpoints: ",
		"ok    books: every posting balances; the trial balance is zero in CNY", "ok    blobs: 1 blobs referenced", "all 9 checks passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("admin check says\n%s\nwant %q", out, want)
		}
	}

	old := time.Now().Add(-48 * time.Hour)
	blobPath := func(dir, sum string) string { return filepath.Join(dir, "blobs", "sha256", sum[:2], sum[2:4], sum) }
	for _, c := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
		failed int    // how many checks fail
		fails  string // in the line that must fail
	}{
		{"a deleted blob", func(t *testing.T, dir string) {
			if err := os.Remove(blobPath(dir, sum)); err != nil {
				t.Fatal(err)
			}
		}, 1, "blob " + sum + " is missing"},
		{"a blob with other bytes", func(t *testing.T, dir string) {
			os.Chmod(blobPath(dir, sum), 0o640)
			os.WriteFile(blobPath(dir, sum), []byte("%PDF a forged report!!!!"), 0o640)
		}, 1, "holds bytes hashing to"},
		{"a tampered filing row", func(t *testing.T, dir string) {
			execSQL(t, sqliteOf(t, dir), `DROP TRIGGER filings_no_update`,
				`UPDATE filings SET payload = replace(payload, '5000000', '9000000') WHERE type = 'trade.funded'`)
		}, 1, "the row's payload differs from its entry: the row was altered"},
		{"a tampered filing entry", func(t *testing.T, dir string) {
			execSQL(t, sqliteOf(t, dir), `DROP TRIGGER filings_no_update`,
				`UPDATE filings SET entry = replace(entry, '5000000', '9000000'), payload = replace(payload, '5000000', '9000000') WHERE type = 'trade.funded'`)
		}, 2, "FAIL  log: entry "},
		{"an unbalanced posting", func(t *testing.T, dir string) {
			execSQL(t, sqliteOf(t, dir), `INSERT INTO postings (id, kind, deal_id, idempotency_key, created_by, created_at) VALUES ('pst_forged', 'funding', '', '', 'system', '2026-01-01T00:00:00.000000Z')`,
				`INSERT INTO posting_lines (posting_id, account, currency, amount) VALUES ('pst_forged', 'buyer:x', 'CNY', 100)`)
		}, 1, "FAIL  books: posting pst_forged does not balance: its CNY lines sum to 100"},
		{"a balance off its postings", func(t *testing.T, dir string) {
			execSQL(t, sqliteOf(t, dir), `UPDATE balances SET amount = amount + 1 WHERE amount > 0`)
		}, 1, "off the sum of its postings"},
		{"a stray staged upload", func(t *testing.T, dir string) {
			f := filepath.Join(dir, "uploads", "upl_stray")
			os.WriteFile(f, []byte("half a file"), 0o640)
			os.Chtimes(f, old, old)
		}, 1, "FAIL  upload staging: 1 stray files older than the grace period"},
		{"a stray spooled batch", func(t *testing.T, dir string) {
			f := filepath.Join(dir, "spool", "finance", "finance-batch-1")
			os.WriteFile(f, []byte("rows"), 0o640)
			os.Chtimes(f, old, old)
		}, 1, "FAIL  ingest spool: 1 spooled files older than the grace period"},
		{"an unreferenced blob", func(t *testing.T, dir string) {
			orphan := sha256hex([]byte("nobody's"))
			f := blobPath(dir, orphan)
			os.MkdirAll(filepath.Dir(f), 0o750)
			os.WriteFile(f, []byte("nobody's"), 0o440)
			os.Chtimes(f, old, old)
		}, 1, "FAIL  unreferenced blobs: 1 unreferenced blobs older than the grace period"},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := copyDir(t, dir)
			c.break_(t, broken)
			out, err := checkDir(broken, "-contents")
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d of 9 checks failed", c.failed)) {
				t.Fatalf("admin check: %v, want one check failed\n%s", err, out)
			}
			if !strings.Contains(out, c.fails) {
				t.Fatalf("admin check says\n%s\nwant %q", out, c.fails)
			}
		})
	}

	// What fails on age only is young beside a running server: reported, not failed;
	// with -repair, what is old is removed and the check passes.
	t.Run("young and repaired", func(t *testing.T) {
		d := copyDir(t, dir)
		os.WriteFile(filepath.Join(d, "uploads", "upl_young"), []byte("in flight"), 0o640)
		out, err := checkDir(d)
		if err != nil || !strings.Contains(out, "1 stray files younger than the grace period") {
			t.Fatalf("a young staged file: %v\n%s", err, out)
		}
		stray := filepath.Join(d, "spool", "finance", "finance-batch-2")
		os.WriteFile(stray, []byte("rows"), 0o640)
		os.Chtimes(stray, old, old)
		if out, err := checkDir(d, "-repair"); err != nil || !strings.Contains(out, "1 spooled files removed") {
			t.Fatalf("admin check -repair: %v\n%s", err, out)
		}
		if _, err := os.Stat(stray); !os.IsNotExist(err) {
			t.Fatalf("-repair left %s: %v", stray, err)
		}
		if out, err := checkDir(d, "-grace", "-1s"); err == nil || strings.Contains(out, "ok    ") {
			t.Fatalf("a negative grace period: %v\n%s", err, out)
		}
		missing := filepath.Join(d, "elsewhere")
		if out, err := checkDir(missing); err == nil || !strings.Contains(err.Error(), "no database in") {
			t.Fatalf("a folder without data: %v\n%s", err, out)
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Fatalf("checking a folder without data made %s (%v)", missing, err)
		}
	})
}

// waitCovered waits until the log's checkpoint covers every filing.
func waitCovered(t *testing.T, url, key string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		last := 0
		for {
			code, b := get(t, fmt.Sprintf("%s/api/v1/filings?limit=1000&after=%d", url, last), key)
			var page struct{ Items []struct{ Seq int } }
			json.Unmarshal(b, &page)
			if code != 200 || len(page.Items) == 0 {
				break
			}
			last = page.Items[len(page.Items)-1].Seq
		}
		_, cp := get(t, url+"/log/checkpoint", "")
		if lines := strings.Split(string(cp), "\n"); len(lines) > 1 && lines[1] == fmt.Sprint(last) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log does not cover the %d filings: %s", last, cp)
		}
	}
}
