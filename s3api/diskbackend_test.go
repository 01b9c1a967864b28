package s3api

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
)

// diskBackend serves a directory tree: each directory under root is a bucket and
// each regular file below it an object, keyed by its slash-separated relative path.
// Public buckets are readable by anyone; the others by the entitled access keys.
type diskBackend struct {
	root     string
	public   map[string]bool
	entitled map[string]bool
	created  time.Time

	mu      sync.Mutex
	failing map[string]int64 // key → bytes delivered before Get's reader fails
	calls   []ListQuery      // List calls, for tests of the endpoint's paging
}

func (d *diskBackend) access(c Caller, bucket string) error {
	fi, err := os.Stat(filepath.Join(d.root, bucket))
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." || err != nil || !fi.IsDir() {
		return ErrNoSuchBucket(bucket)
	}
	if d.public[bucket] || d.entitled[c.AccessKeyID] {
		return nil
	}
	return ErrAccessDenied
}

func (d *diskBackend) Buckets(ctx context.Context, c Caller) ([]Bucket, error) {
	ents, err := os.ReadDir(d.root)
	if err != nil {
		return nil, err
	}
	var out []Bucket
	for _, e := range ents {
		if e.IsDir() && d.access(c, e.Name()) == nil {
			out = append(out, Bucket{Name: e.Name(), Created: d.created})
		}
	}
	return out, nil
}

func (d *diskBackend) Region(ctx context.Context, c Caller, bucket string) (string, error) {
	if err := d.access(c, bucket); err != nil {
		return "", err
	}
	return "", nil
}

// keys lists the bucket's keys in byte order.
func (d *diskBackend) keys(bucket string) ([]string, error) {
	dir := filepath.Join(d.root, bucket)
	var keys []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(keys)
	return keys, err
}

// List pages with tokens "K<key>" (continue after a key) and "P<prefix>"
// (continue after everything a common prefix rolled up).
func (d *diskBackend) List(ctx context.Context, c Caller, bucket string, q ListQuery) (ListPage, error) {
	d.mu.Lock()
	d.calls = append(d.calls, q)
	d.mu.Unlock()
	if err := d.access(c, bucket); err != nil {
		return ListPage{}, err
	}
	if q.MaxKeys < 1 || q.MaxKeys > 1000 {
		return ListPage{}, fmt.Errorf("diskBackend: MaxKeys %d out of range", q.MaxKeys)
	}
	after, skipUnder := q.StartAfter, ""
	if q.Token != "" {
		switch q.Token[0] {
		case 'K':
			after = q.Token[1:]
		case 'P':
			after, skipUnder = q.Token[1:], q.Token[1:]
		default:
			return ListPage{}, ErrInvalidArgument("bad token")
		}
	}
	keys, err := d.keys(bucket)
	if err != nil {
		return ListPage{}, err
	}
	type item struct {
		name     string
		isPrefix bool
	}
	var items []item
	lastCP := ""
	for _, k := range keys {
		if !strings.HasPrefix(k, q.Prefix) || k <= after || (skipUnder != "" && strings.HasPrefix(k, skipUnder)) {
			continue
		}
		if q.Delimiter != "" {
			rest := k[len(q.Prefix):]
			if i := strings.Index(rest, q.Delimiter); i >= 0 {
				cp := q.Prefix + rest[:i+len(q.Delimiter)]
				if cp != lastCP {
					lastCP = cp
					items = append(items, item{cp, true})
				}
				if len(items) > q.MaxKeys {
					break
				}
				continue
			}
		}
		items = append(items, item{k, false})
		if len(items) > q.MaxKeys {
			break
		}
	}
	var pg ListPage
	if len(items) > q.MaxKeys {
		items = items[:q.MaxKeys]
		pg.Truncated = true
		last := items[len(items)-1]
		if last.isPrefix {
			pg.Next = "P" + last.name
		} else {
			pg.Next = "K" + last.name
		}
	}
	for _, it := range items {
		if it.isPrefix {
			pg.CommonPrefixes = append(pg.CommonPrefixes, it.name)
			continue
		}
		info, err := d.stat(bucket, it.name)
		if err != nil {
			return ListPage{}, err
		}
		pg.Objects = append(pg.Objects, info)
	}
	return pg, nil
}

func (d *diskBackend) stat(bucket, key string) (ObjectInfo, error) {
	root, err := os.OpenRoot(filepath.Join(d.root, bucket))
	if err != nil {
		return ObjectInfo{}, err
	}
	defer root.Close()
	if key == "" || path.Clean(key) != key || strings.HasPrefix(key, "/") {
		return ObjectInfo{}, dataport.Errorf("disk.Head", dataport.KindNotFound, "no such object")
	}
	f, err := root.Open(filepath.FromSlash(key))
	if err != nil {
		// A dataport error on purpose: the endpoint maps "not found" to NoSuchKey.
		return ObjectInfo{}, dataport.Errorf("disk.Head", dataport.KindNotFound, "no such object")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return ObjectInfo{}, dataport.Errorf("disk.Head", dataport.KindNotFound, "no such object")
	}
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{
		Key:          key,
		Size:         fi.Size(),
		ETag:         hex.EncodeToString(h.Sum(nil)),
		LastModified: fi.ModTime(),
		ContentType:  mime.TypeByExtension(path.Ext(key)),
	}, nil
}

func (d *diskBackend) Head(ctx context.Context, c Caller, bucket, key string) (ObjectInfo, error) {
	if err := d.access(c, bucket); err != nil {
		return ObjectInfo{}, err
	}
	return d.stat(bucket, key)
}

func (d *diskBackend) Get(ctx context.Context, c Caller, bucket, key string, offset, length int64) (io.ReadCloser, error) {
	info, err := d.Head(ctx, c, bucket, key)
	if err != nil {
		return nil, err
	}
	if length < 0 {
		length = info.Size - offset
	}
	root, err := os.OpenRoot(filepath.Join(d.root, bucket))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(key))
	if err != nil {
		return nil, ErrNoSuchKey
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	var r io.Reader = &exactReader{r: io.LimitReader(f, length), left: length}
	d.mu.Lock()
	failAt, failing := d.failing[key]
	d.mu.Unlock()
	if failing {
		r = io.MultiReader(io.LimitReader(r, failAt), errReader{errors.New("disk: read error")})
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}

// exactReader fails when its source ends before left bytes.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// mapKeys is a Keys over a map of access key → secret.
type mapKeys map[string]string

func (m mapKeys) Secret(ctx context.Context, id string) (string, error) {
	if s, ok := m[id]; ok {
		return s, nil
	}
	return "", dataport.Errorf("keys.Secret", dataport.KindNotFound, "no such key")
}

// The fixture: two buckets, keys with spaces, '+', '%', '&', '~', Chinese.
const (
	testAccessKey   = "AKIDDATAPORTTEST"
	testSecretKey   = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYTESTKEY"
	otherAccessKey  = "AKIDNOTENTITLED"
	otherSecretKey  = "another/secret+key"
	publicBucket    = "open-data"
	privateBucket   = "private"
	bigKey          = "big.bin"
	bigSize         = 300*1024 + 17
	manyPrefix      = "many/"
	manyCount       = 23
	chineseKey      = "数据/报告 2024.csv"
	spaceKey        = "with space/file name.txt"
	privateKey      = "reports/q1 收入.csv"
	privateContents = "quarter,revenue\nq1,42\n"
)

func fixtureFiles() map[string]string {
	files := map[string]string{
		publicBucket + "/README.txt":              "hello open data\n",
		publicBucket + "/data/2024/jan.csv":       "month,value\njan,1\n",
		publicBucket + "/data/2024/feb.csv":       "month,value\nfeb,2\n",
		publicBucket + "/data/2025/mar.csv":       "month,value\nmar,3\n",
		publicBucket + "/data/summary.json":       `{"months":3}`,
		publicBucket + "/" + spaceKey:             "spaces in the key\n",
		publicBucket + "/" + chineseKey:           "地区,数值\n北京,1\n",
		publicBucket + "/plus+sign.txt":           "plus\n",
		publicBucket + "/percent%41.txt":          "a literal percent-four-one, not an A\n",
		publicBucket + "/a&b=c~d.txt":             "ampersand, equals, tilde\n",
		publicBucket + "/empty.txt":               "",
		privateBucket + "/" + privateKey:          privateContents,
		privateBucket + "/notes/readme.md":        "# private\n",
		privateBucket + "/notes/2024/minutes.txt": "minutes\n",
	}
	for i := range manyCount {
		files[fmt.Sprintf("%s%s%04d.txt", publicBucket+"/", manyPrefix, i)] = fmt.Sprintf("file %d\n", i)
	}
	return files
}

func bigContents() []byte {
	b := make([]byte, bigSize)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// newDiskBackend writes the fixture under a temporary directory.
func newDiskBackend(t testing.TB) *diskBackend {
	t.Helper()
	root := t.TempDir()
	files := fixtureFiles()
	files[publicBucket+"/"+bigKey] = string(bigContents())
	mod := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	return &diskBackend{
		root:     root,
		public:   map[string]bool{publicBucket: true},
		entitled: map[string]bool{testAccessKey: true},
		created:  time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		failing:  map[string]int64{},
	}
}

func testKeys() mapKeys {
	return mapKeys{testAccessKey: testSecretKey, otherAccessKey: otherSecretKey}
}

// fileBytes reads an object of the fixture straight from disk.
func (d *diskBackend) fileBytes(t testing.TB, bucket, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.root, bucket, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
