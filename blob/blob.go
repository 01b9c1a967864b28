// Package blob keeps the exchange's content: attachments, contracts, dataset files.
// Every blob is addressed by the SHA-256 of its bytes (lower-case hex), so an address
// names exactly one content, a filing that carries the address proves what the
// content was, and storing the same bytes twice stores them once.
//
// A Store never shows a partial blob: Put writes aside and makes the blob visible
// under its address only once every byte is on stable storage and the hash checks.
package blob

import (
	"context"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/dataport/dataport"
)

// Info describes a stored blob.
type Info struct {
	SHA256 string    `json:"sha256"`
	Size   int64     `json:"size"`
	Stored time.Time `json:"stored,omitzero"`
}

// Object is an open blob: readable, seekable (for HTTP Range requests), closable.
type Object interface {
	io.ReadSeekCloser
	Info() Info
}

// FileBacked is implemented by Objects that are an open file on local disk, as
// the FS store's are. A server sending such a blob can hand the file itself to
// net/http, which then sends it with sendfile(2): the bytes go from the page cache
// to the socket without passing through the process.
type FileBacked interface {
	// OSFile is the open file under the object. It shares the object's offset,
	// and closing the object closes it.
	OSFile() *os.File
}

// Store is content-addressed storage.
type Store interface {
	// Put stores what r yields, refusing (KindTooLarge) more than limit bytes, and
	// returns the blob's address. When want is not empty the content must hash to it
	// (KindInvalid otherwise); nothing is stored unless Put succeeds.
	Put(ctx context.Context, r io.Reader, limit int64, want string) (Info, error)
	// Stat reports a stored blob, KindNotFound when there is none.
	Stat(ctx context.Context, sum string) (Info, error)
	// Open opens a stored blob for reading.
	Open(ctx context.Context, sum string) (Object, error)
	// Delete removes a blob; deleting what is not there is not an error.
	Delete(ctx context.Context, sum string) error
}

// Lister is implemented by stores that can enumerate what they hold, as a
// consistency check needs: every blob, to find those nothing references, and the
// uploads in progress or abandoned, with when each began.
type Lister interface {
	// List calls fn with every stored blob, in no particular order, until fn fails.
	List(ctx context.Context, fn func(Info) error) error
	// Pending lists the uploads in progress or abandoned.
	Pending(ctx context.Context) ([]Pending, error)
	// SweepPending removes the uploads begun before cutoff, as the store does by
	// itself when it opens for those a day old.
	SweepPending(ctx context.Context, cutoff time.Time) error
}

// Pending is an upload in progress, or abandoned by a process that stopped.
type Pending struct {
	Name  string    `json:"name"`
	Began time.Time `json:"began"`
}

var address = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidAddress reports whether sum is a blob address: 64 lower-case hex digits. Only
// such addresses reach a backend, so no path or key can be smuggled through one.
func ValidAddress(sum string) bool { return address.MatchString(sum) }

func checkAddress(op, sum string) error {
	if !ValidAddress(sum) {
		return dataport.Invalid(op, dataport.FieldProblem{Field: "sha256", Message: "a blob address is 64 lower-case hex digits"})
	}
	return nil
}

func notFound(op, sum string) error {
	return dataport.Errorf(op, dataport.KindNotFound, "no blob %s", sum)
}

func tooLarge(op string, limit int64) error {
	return dataport.Errorf(op, dataport.KindTooLarge, "content larger than %d bytes", limit)
}
