package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// Opener opens a fresh, empty, migrated database for a test.
type Opener func(t *testing.T, opts store.Options) *store.DB

var testActor = dataport.Actor{ParticipantID: "prt_storetest", KeyID: "key_storetest"}

// Run is the storage conformance suite: every engine must pass it.
func Run(t *testing.T, open Opener) {
	t.Run("Migrations", func(t *testing.T) { testMigrations(t, open) })
	t.Run("WriteMustFile", func(t *testing.T) { testWriteMustFile(t, open) })
	t.Run("RollbackTakesFilingWithIt", func(t *testing.T) { testRollback(t, open) })
	t.Run("BeforeCommitFailure", func(t *testing.T) { testBeforeCommit(t, open) })
	t.Run("FilingsAppendOnly", func(t *testing.T) { testAppendOnly(t, open) })
	t.Run("FilingCanonicalEntry", func(t *testing.T) { testCanonicalEntry(t, open) })
	t.Run("FilingEntryLimit", func(t *testing.T) { testEntryLimit(t, open) })
	t.Run("SequenceGapFreeUnderConcurrency", func(t *testing.T) { testConcurrentSequence(t, open) })
	t.Run("ReadIsReadOnly", func(t *testing.T) { testReadOnly(t, open) })
	t.Run("UniqueViolation", func(t *testing.T) { testUnique(t, open) })
	t.Run("PlaceholdersAndText", func(t *testing.T) { testPlaceholders(t, open) })
	t.Run("ListBySubjectAndType", func(t *testing.T) { testList(t, open) })
	t.Run("AcknowledgedMeansCommitted", func(t *testing.T) { testAcknowledged(t, open) })
}

// scratch creates a table for the suite's own rows, filed like any change.
func scratch(t *testing.T, db *store.DB) {
	t.Helper()
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Exec(`CREATE TABLE scratch (id TEXT PRIMARY KEY, note TEXT NOT NULL)`); err != nil {
			return err
		}
		_, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.setup", Subjects: []string{"storetest"}, Payload: map[string]any{}})
		return err
	})
	if err != nil {
		t.Fatalf("scratch table: %v", err)
	}
}

func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	err := db.Read(context.Background(), func(tx *store.Tx) error { return tx.QueryRow(query, args...).Scan(&n) })
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func testMigrations(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	v, err := db.SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v == 0 || v != db.LatestSchemaVersion() {
		t.Fatalf("schema version %d, want %d", v, db.LatestSchemaVersion())
	}
	if n := count(t, db, `SELECT last_seq FROM filing_sequence`); n != 0 {
		t.Fatalf("fresh database has filing sequence at %d", n)
	}
}

func testWriteMustFile(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	scratch(t, db)
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO scratch (id, note) VALUES ('a', 'unfiled')`)
		return err
	})
	if dataport.KindOf(err) != dataport.KindInternal || err == nil {
		t.Fatalf("unfiled write: err = %v, want internal error", err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM scratch`); n != 0 {
		t.Fatalf("unfiled write left %d rows", n)
	}
}

func testRollback(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	scratch(t, db)
	before := count(t, db, `SELECT COUNT(*) FROM filings`)
	boom := errors.New("boom")
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO scratch (id, note) VALUES ('a', 'x')`); err != nil {
			return err
		}
		if _, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.added", Subjects: []string{"a"}, Payload: map[string]string{"id": "a"}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM scratch`); n != 0 {
		t.Fatalf("rolled-back change persisted")
	}
	if n := count(t, db, `SELECT COUNT(*) FROM filings`); n != before {
		t.Fatalf("rolled-back filing persisted: %d filings, want %d", n, before)
	}
	// The number the rolled-back filing took is handed out again: no gap.
	var seq int64
	err = db.Write(context.Background(), func(tx *store.Tx) error {
		f, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.added", Payload: map[string]string{}})
		seq = f.Seq
		return err
	})
	if err != nil || seq != int64(before)+1 {
		t.Fatalf("next filing seq %d (err %v), want %d", seq, err, before+1)
	}
}

func testBeforeCommit(t *testing.T, open Opener) {
	fail := false
	db := open(t, store.Options{BeforeCommit: func(context.Context) error {
		if fail {
			return errors.New("injected failure before commit")
		}
		return nil
	}})
	scratch(t, db)
	fail = true
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO scratch (id, note) VALUES ('a', 'x')`); err != nil {
			return err
		}
		_, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.added", Payload: map[string]string{}})
		return err
	})
	if err == nil {
		t.Fatal("injected failure did not fail the write")
	}
	if n := count(t, db, `SELECT COUNT(*) FROM scratch`); n != 0 {
		t.Fatal("change persisted past a failed commit")
	}
	if n := count(t, db, `SELECT COUNT(*) FROM filings WHERE type = 'storetest.added'`); n != 0 {
		t.Fatal("filing persisted past a failed commit")
	}
}

func testAppendOnly(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	scratch(t, db)
	for _, stmt := range []string{
		`UPDATE filings SET type = 'tampered'`,
		`UPDATE filings SET payload = '{}' WHERE seq = 1`,
		`DELETE FROM filings`,
		`DELETE FROM filing_subjects`,
		`UPDATE filing_sequence SET last_seq = 0`,
		`UPDATE filing_sequence SET last_seq = last_seq + 5`,
		`DELETE FROM filing_sequence`,
		`INSERT INTO filings (seq, filed_at, actor, key_id, type, payload, entry, sha256) VALUES (99, '', '', '', '', '{}', '{}', '')`,
	} {
		err := db.Write(context.Background(), func(tx *store.Tx) error {
			if _, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.tamper", Subjects: []string{"x"}, Payload: map[string]string{}}); err != nil {
				return err
			}
			_, err := tx.Exec(stmt)
			return err
		})
		if err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
	if db.Engine() == store.Postgres {
		err := db.Write(context.Background(), func(tx *store.Tx) error {
			if _, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.tamper", Payload: map[string]string{}}); err != nil {
				return err
			}
			_, err := tx.Exec(`TRUNCATE filings CASCADE`)
			return err
		})
		if err == nil {
			t.Error("TRUNCATE filings: allowed")
		}
	}
	if n := count(t, db, `SELECT COUNT(*) FROM filings`); n != 1 {
		t.Fatalf("%d filings after tampering attempts, want the 1 setup filing", n)
	}
}

func testCanonicalEntry(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	var f ledger.Filing
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		f, err = ledger.File(tx, testActor, ledger.Change{Type: "storetest.added", Subjects: []string{"b", "a"},
			Payload: map[string]any{"z": 1, "a": "数据 <&>", "m": map[string]any{"y": 2.5, "b": []int{3, 1}}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var got ledger.Filing
	err = db.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		got, err = ledger.Get(tx, f.Seq)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Entry) != string(f.Entry) {
		t.Fatalf("stored entry differs:\n%s\n%s", got.Entry, f.Entry)
	}
	again, err := jcs.Transform(got.Entry)
	if err != nil || string(again) != string(got.Entry) {
		t.Fatalf("entry is not RFC 8785 canonical: %s", got.Entry)
	}
	// Strings that need RFC 8785's escaping rules, in every field a caller controls.
	var tricky ledger.Filing
	err = db.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		tricky, err = ledger.File(tx, dataport.Actor{ParticipantID: "p\"\\\n\u2028", KeyID: "k\x01\x1f\x7f"},
			ledger.Change{Type: "storetest.added", Subjects: []string{"a\tb\r\f\b", "数据<&>", "\xff"}, Payload: map[string]any{}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := jcs.Transform(tricky.Entry); err != nil || string(again) != string(tricky.Entry) {
		t.Fatalf("entry with escapes is not canonical:\n got %s\nwant %s (%v)", tricky.Entry, again, err)
	}
	sum := sha256.Sum256(got.Entry)
	if got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("sha256 does not match the entry")
	}
	want := `{"actor":"prt_storetest","filed_at":"` + store.FormatTime(got.FiledAt) +
		`","key_id":"key_storetest","payload":{"a":"数据 <&>","m":{"b":[3,1],"y":2.5},"z":1},"seq":1,"subjects":["b","a"],"type":"storetest.added"}`
	if string(got.Entry) != want {
		t.Fatalf("entry\n got %s\nwant %s", got.Entry, want)
	}
}

func testEntryLimit(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		_, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.big", Payload: map[string]string{"x": strings.Repeat("a", ledger.MaxEntryBytes)}})
		return err
	})
	if err == nil {
		t.Fatal("an entry over 65,535 bytes was filed")
	}
	if n := count(t, db, `SELECT COUNT(*) FROM filings`); n != 0 {
		t.Fatal("oversized filing persisted")
	}
}

func testConcurrentSequence(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	const workers, each = 8, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := 0
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				rollback := (w+i)%4 == 0 // some transactions fail after filing
				err := db.Write(context.Background(), func(tx *store.Tx) error {
					if _, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.concurrent",
						Payload: map[string]int{"worker": w, "i": i}}); err != nil {
						return err
					}
					if rollback {
						return errRollback
					}
					return nil
				})
				switch {
				case err == nil:
					mu.Lock()
					committed++
					mu.Unlock()
				case !errors.Is(err, errRollback):
					errs <- fmt.Errorf("worker %d filing %d: %w", w, i, err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Gap-free: the numbers are exactly 1..committed, and times never go back.
	var fs []ledger.Filing
	err := db.Read(context.Background(), func(tx *store.Tx) error {
		var after int64
		for {
			page, err := ledger.List(tx, ledger.Filter{After: after, Limit: 1000})
			if err != nil {
				return err
			}
			if len(page) == 0 {
				return nil
			}
			fs = append(fs, page...)
			after = page[len(page)-1].Seq
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != committed {
		t.Fatalf("%d filings, %d committed", len(fs), committed)
	}
	for i, f := range fs {
		if f.Seq != int64(i+1) {
			t.Fatalf("filing %d has seq %d: the sequence has a gap", i+1, f.Seq)
		}
		if i > 0 && f.FiledAt.Before(fs[i-1].FiledAt) {
			t.Fatalf("filing %d is filed before filing %d", f.Seq, fs[i-1].Seq)
		}
	}
}

var errRollback = errors.New("deliberate rollback")

func testReadOnly(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	scratch(t, db)
	err := db.Read(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO scratch (id, note) VALUES ('a', 'x')`)
		return err
	})
	if err == nil {
		t.Fatal("a read transaction wrote")
	}
	if n := count(t, db, `SELECT COUNT(*) FROM scratch`); n != 0 {
		t.Fatal("a read transaction's write persisted")
	}
}

func testUnique(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	scratch(t, db)
	insert := func() error {
		return db.Write(context.Background(), func(tx *store.Tx) error {
			if _, err := tx.Exec(`INSERT INTO scratch (id, note) VALUES ('same', 'x')`); err != nil {
				return err
			}
			_, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.added", Payload: map[string]string{}})
			return err
		})
	}
	if err := insert(); err != nil {
		t.Fatal(err)
	}
	err := insert()
	if !store.IsUniqueViolation(err) {
		t.Fatalf("duplicate key: %v is not recognised as a unique violation", err)
	}
}

func testPlaceholders(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	scratch(t, db)
	when := time.Date(2026, 3, 22, 8, 30, 0, 123456000, time.UTC)
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		// $2 appears before $1: both engines bind by number, not by position.
		if _, err := tx.Exec(`INSERT INTO scratch (note, id) VALUES ($2, $1)`, "k1", "上海数据交易所 "+store.FormatTime(when)); err != nil {
			return err
		}
		_, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.added", Payload: map[string]string{}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var note string
	err = db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT note FROM scratch WHERE id = $1`, "k1").Scan(&note)
	})
	if err != nil {
		t.Fatal(err)
	}
	text, stamp, _ := strings.Cut(note, " ")
	if text != "上海数据交易所" {
		t.Fatalf("text came back as %q", text)
	}
	back, err := store.ParseTime(stamp)
	if err != nil || !back.Equal(when) {
		t.Fatalf("time came back as %v (%v), want %v", back, err, when)
	}
}

func testList(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		for i, c := range []ledger.Change{
			{Type: "storetest.a", Subjects: []string{"p1"}, Payload: 1},
			{Type: "storetest.b", Subjects: []string{"p1", "p2"}, Payload: 2},
			{Type: "storetest.a", Subjects: []string{"p2"}, Payload: 3},
		} {
			if _, err := ledger.File(tx, testActor, c); err != nil {
				return fmt.Errorf("filing %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(f ledger.Filter, want ...int64) {
		t.Helper()
		var got []int64
		err := db.Read(context.Background(), func(tx *store.Tx) error {
			fs, err := ledger.List(tx, f)
			for _, x := range fs {
				got = append(got, x.Seq)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%+v: got %v, want %v", f, got, want)
		}
	}
	check(ledger.Filter{}, 1, 2, 3)
	check(ledger.Filter{Subject: "p1"}, 1, 2)
	check(ledger.Filter{Subject: "p2", Type: "storetest.a"}, 3)
	check(ledger.Filter{After: 1, Limit: 1}, 2)
}

// testAcknowledged makes a statement fail at the level of the group's transaction
// (which aborts it on PostgreSQL, not on SQLite) and checks that the answer matches
// what is stored: an acknowledged write is there, a failed one is not.
func testAcknowledged(t *testing.T, open Opener) {
	db := open(t, store.Options{})
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		tx.ExecGroup(`INSERT INTO no_such_table VALUES (1)`) // fails; the error is ignored
		_, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.added", Payload: map[string]string{}})
		return err
	})
	n := count(t, db, `SELECT COUNT(*) FROM filings`)
	if (err == nil) != (n == 1) {
		t.Fatalf("write answered %v, but %d filings are stored", err, n)
	}
	// The committer recovers: the next write goes through.
	err = db.Write(context.Background(), func(tx *store.Tx) error {
		_, err := ledger.File(tx, testActor, ledger.Change{Type: "storetest.added", Payload: map[string]string{}})
		return err
	})
	if err != nil {
		t.Fatalf("the write after: %v", err)
	}
}
