// Command tesseragen writes the test fixture in ../log: a C2SP tlog-tiles log of 1000
// entries written by Tessera (github.com/transparency-dev/tessera, POSIX storage
// driver), signed with a fresh key for the origin tessera.example/interop, whose
// verifier key it writes to ../vkey. It follows Tessera's posix-oneshot example.
//
// It is its own module so that Tessera stays out of the main module. To regenerate:
//
//	cd ledger/testdata/tessera/gen && rm -rf ../log && go run . -out ../log
//
// The key is new on every run, so the log, its checkpoint and vkey all change together.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

const (
	origin = "tessera.example/interop"
	count  = 1000
)

// entry returns the n-th entry: a JSON line of varied length, some with multibyte UTF-8.
func entry(n int) []byte {
	words := []string{"filing", "ledger", "Grüße", "naïve café", "日本語のテキスト", "emoji 🚀✨", "Ελληνικά", "plain"}
	text := strings.Repeat(words[n%len(words)]+" ", 1+n%13)
	b, err := json.Marshal(struct {
		N    int    `json:"n"`
		Text string `json:"text"`
	}{n, strings.TrimSpace(text)})
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func main() {
	out := flag.String("out", "../log", "directory to create the log in (must not exist)")
	flag.Parse()
	if err := run(context.Background(), *out); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out string) error {
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists; remove it first", out)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	driver, err := posix.New(ctx, posix.Config{Path: out})
	if err != nil {
		return err
	}
	// One batch of all the entries, so no intermediate checkpoints or partial tiles
	// are left behind, as in posix-oneshot.
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(count, 100*time.Millisecond).
		WithCheckpointInterval(100 * time.Millisecond)
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		return err
	}
	await := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 100*time.Millisecond)
	futures := make([]tessera.IndexFuture, count)
	for n := range count {
		futures[n] = appender.Add(ctx, tessera.NewEntry(entry(n)))
	}
	var cp []byte
	for n, f := range futures {
		idx, c, err := await.Await(ctx, f)
		if err != nil {
			return fmt.Errorf("entry %d: %v", n, err)
		}
		if idx.Index != uint64(n) {
			return fmt.Errorf("entry %d was given index %d", n, idx.Index)
		}
		cp = c
	}
	if err := shutdown(ctx); err != nil {
		return err
	}
	// Tessera's private state (tree state, lock files) is not part of the published log.
	if err := os.RemoveAll(filepath.Join(out, ".state")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(filepath.Clean(out)), "vkey"), []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s\n%s", vkey, cp)
	return nil
}
