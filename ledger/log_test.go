package ledger_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var actor = dataport.Actor{ParticipantID: "prt_test", KeyID: "key_test"}

func file(t testing.TB, db *store.DB, n int) {
	t.Helper()
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		for i := 0; i < n; i++ {
			if _, err := ledger.File(tx, actor, ledger.Change{Type: "test.filed", Subjects: []string{"s"}, Payload: map[string]int{"i": i}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func openLog(t testing.TB, db *store.DB) (*ledger.Log, string) {
	t.Helper()
	skey, vkey, err := ledger.GenerateKey("log.test.example/dataport")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.OpenLog(context.Background(), db, skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.VerifierKey() != vkey {
		t.Fatalf("verifier key %q, want %q", l.VerifierKey(), vkey)
	}
	return l, vkey
}

func entries(t testing.TB, db *store.DB) [][]byte {
	var out [][]byte
	err := db.Read(context.Background(), func(tx *store.Tx) error {
		fs, err := ledger.List(tx, ledger.Filter{Limit: 1000})
		for _, f := range fs {
			out = append(out, f.Entry)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// memoryTree recomputes the tree from the entries with tlog, independently of the
// log's stored hashes.
type memoryTree []tlog.Hash

func (m memoryTree) ReadHashes(ix []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ix))
	for i, x := range ix {
		out[i] = m[x]
	}
	return out, nil
}

func rebuild(t testing.TB, es [][]byte) (memoryTree, tlog.Hash) {
	var m memoryTree
	for i, e := range es {
		hs, err := tlog.StoredHashes(int64(i), e, m)
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, hs...)
	}
	root, err := tlog.TreeHash(int64(len(es)), m)
	if err != nil {
		t.Fatal(err)
	}
	return m, root
}

func TestLogIntegratesSignsAndProves(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		db := storetest.Open(t, engine, store.Options{})
		l, vkey := openLog(t, db)
		if _, ok := l.Latest(); ok {
			t.Fatal("a checkpoint before any filing")
		}
		file(t, db, 300)
		if n, err := l.Integrate(ctx); err != nil || n != 300 {
			t.Fatalf("integrate: %d, %v", n, err)
		}
		first, _ := l.Latest()
		file(t, db, 213)
		if n, err := l.Integrate(ctx); err != nil || n != 213 {
			t.Fatalf("integrate: %d, %v", n, err)
		}
		cp, ok := l.Latest()
		if !ok || cp.Size != 513 {
			t.Fatalf("checkpoint size %d", cp.Size)
		}

		// The checkpoint verifies with the verifier key and nothing but x/mod's note.
		v, err := note.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(cp.Note, note.VerifierList(v))
		if err != nil {
			t.Fatalf("checkpoint signature: %v\n%s", err, cp.Note)
		}
		parsed, err := ledger.ParseCheckpoint(n.Text)
		if err != nil || parsed.Size != 513 || parsed.Origin != "log.test.example/dataport" {
			t.Fatalf("checkpoint body %q: %+v %v", n.Text, parsed, err)
		}

		// Its root is the root of the tree rebuilt from the entries alone.
		es := entries(t, db)
		tree, root := rebuild(t, es)
		if root != cp.Root {
			t.Fatalf("root %x, rebuilt %x", cp.Root, root)
		}

		// Tiles serve what the rebuilt tree says, and the entry bundles the entries.
		for _, path := range []string{"tile/0/000", "tile/0/001", "tile/0/002.p/1", "tile/1/000.p/2", "tile/0/001.p/7"} {
			tp, err := ledger.ParseTilePath(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.ReadTile(ctx, tp)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			want, err := tlog.ReadTileData(tlog.Tile{H: 8, L: tp.L, N: tp.N, W: tp.W}, tree)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s differs from the rebuilt tree", path)
			}
		}
		bundle, err := l.ReadTile(ctx, ledger.TilePath{Entries: true, N: 1, W: 256})
		if err != nil {
			t.Fatal(err)
		}
		for i := 256; i < 512; i++ {
			size := int(binary.BigEndian.Uint16(bundle))
			if string(bundle[2:2+size]) != string(es[i]) {
				t.Fatalf("entry bundle: entry %d differs", i)
			}
			bundle = bundle[2+size:]
		}
		for _, beyond := range []string{"tile/0/002", "tile/0/002.p/2", "tile/1/000", "tile/2/000.p/1", "tile/entries/003.p/1"} {
			tp, _ := ledger.ParseTilePath(beyond)
			if _, err := l.ReadTile(ctx, tp); dataport.KindOf(err) != dataport.KindNotFound {
				t.Errorf("%s: err = %v, want not found", beyond, err)
			}
		}

		// Inclusion proofs for every filing, checked by the RFC 9162 verifier.
		for seq := int64(1); seq <= cp.Size; seq += 17 {
			proof, err := l.InclusionProof(ctx, seq, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := ledger.CheckInclusion(proof, seq-1, cp.Size, ledger.LeafHash(es[seq-1]), cp.Root[:]); err != nil {
				t.Fatalf("filing %d: %v", seq, err)
			}
		}
		// Consistency between the first checkpoint and the latest.
		proof, err := l.ConsistencyProof(ctx, first.Size, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.CheckConsistency(proof, first.Size, cp.Size, first.Root[:], cp.Root[:]); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLogRefusesAnotherOrigin(t *testing.T) {
	db := storetest.Open(t, store.SQLite, store.Options{})
	l, _ := openLog(t, db)
	file(t, db, 3)
	if _, err := l.Integrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	skey, _, _ := ledger.GenerateKey("other.example/log")
	if _, err := ledger.OpenLog(context.Background(), db, skey, nil); err == nil || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("reopened with another origin: %v", err)
	}
}

func TestTilePaths(t *testing.T) {
	for path, want := range map[string]ledger.TilePath{
		"tile/0/000":            {L: 0, N: 0, W: 256},
		"tile/0/x001/x234/067":  {L: 0, N: 1234067, W: 256},
		"tile/3/x001/000.p/255": {L: 3, N: 1000, W: 255},
		"tile/entries/123.p/1":  {Entries: true, N: 123, W: 1},
		"tile/63/999":           {L: 63, N: 999, W: 256},
		"tile/entries/x999/999": {Entries: true, N: 999999, W: 256},
	} {
		got, err := ledger.ParseTilePath(path)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v", path, got, err)
			continue
		}
		if got.String() != path {
			t.Errorf("%s renders as %s", path, got.String())
		}
	}
	for _, bad := range []string{
		"", "tile", "tile/", "tile/0", "tile/0/", "tile/00/000", "tile/64/000", "tile/-1/000", "tile/0/0",
		"tile/0/1234", "tile/0/x000/001", "tile/0/001/002", "tile/0/xx01/000", "tile/0/000.p/0",
		"tile/0/000.p/256", "tile/0/000.p/01", "tile/0/000.p/", "tile/0/000.p", "tile/data/000",
		"tile/0/x999/x999/x999/x999/x999/x999/999", "tile/0/+12", "tile/0/ 12", "tile/0/000/",
		"tiles/0/000", "tile/entries/000.p/300",
	} {
		if tp, err := ledger.ParseTilePath(bad); err == nil {
			t.Errorf("%q parsed as %+v", bad, tp)
		}
	}
}

func ExampleTilePath_String() {
	fmt.Println(ledger.TilePath{L: 1, N: 1234067, W: 17})
	// Output: tile/1/x001/x234/067.p/17
}

// logSource serves a Log in process, as /log/ does over HTTP.
type logSource struct{ l *ledger.Log }

func (s logSource) Fetch(ctx context.Context, path string) ([]byte, error) {
	if path == "checkpoint" {
		return s.l.CosignedCheckpoint(ctx)
	}
	t, err := ledger.ParseTilePath(path)
	if err != nil {
		return nil, err
	}
	return s.l.ReadTile(ctx, t)
}

// TestVerifyFindsTampering changes stored data behind the database's back (the
// append-only triggers dropped, as an attacker with the files could) and checks that
// the verifier names what was changed.
func TestVerifyFindsTampering(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.DSN(t, store.SQLite)
	db, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	skey, vkey, _ := ledger.GenerateKey("log.test.example/dataport")
	l, err := ledger.OpenLog(ctx, db, skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	file(t, db, 200)
	l.Integrate(ctx)
	early, _ := l.Latest()
	file(t, db, 400)
	l.Integrate(ctx)
	opts := ledger.VerifyOptions{Key: vkey, Entries: true, Since: early.Note}
	rep, err := ledger.VerifyLog(ctx, logSource{l}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 600 || rep.Tiles != 4 || rep.Since.Size != 200 {
		t.Fatalf("report %+v", rep)
	}

	tamper := func(stmts ...string) *ledger.Log {
		t.Helper()
		raw, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		for _, s := range stmts {
			if _, err := raw.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		fresh, err := ledger.OpenLog(ctx, db, skey, nil) // no cached hashes
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}

	// One byte of one entry.
	l = tamper(`DROP TRIGGER filings_no_update`,
		`UPDATE filings SET entry = replace(entry, 'test.filed', 'test.filee') WHERE seq = 301`)
	_, err = ledger.VerifyLog(ctx, logSource{l}, opts)
	if err == nil || !strings.Contains(err.Error(), "entry 300 (tile/entries/001, position 44)") {
		t.Fatalf("altered entry: %v", err)
	}
	// Without -entries the tree itself is still intact.
	if _, err := ledger.VerifyLog(ctx, logSource{l}, ledger.VerifyOptions{Key: vkey}); err != nil {
		t.Fatalf("tree check after entry tampering: %v", err)
	}

	// One stored leaf hash in a full tile.
	l = tamper(`DROP TRIGGER log_hashes_no_update`,
		// Flip the first byte whatever it is: a hash that already starts 00 (1 in 256)
		// would otherwise be left unchanged.
		`UPDATE log_hashes SET hash = CASE WHEN substr(hash, 1, 2) = '00' THEN 'ff' ELSE '00' END || substr(hash, 3) WHERE id = 10`)
	_, err = ledger.VerifyLog(ctx, logSource{l}, ledger.VerifyOptions{Key: vkey})
	if err == nil || !strings.Contains(err.Error(), "tile/0/000 hashes to") {
		t.Fatalf("altered tile: %v", err)
	}
}
