package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/ledger"
	"github.com/schollz/progressbar/v3"
)

// exchangeClient is a small client of a running exchange.
type exchangeClient struct {
	base string
	key  string
	http *http.Client
}

// apiError is a problem+json answer, said in one line.
type apiError struct {
	Status int
	Detail string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Detail) }

func (a *exchangeClient) request(ctx context.Context, method, path string, body io.Reader, size int64, headers ...string) (*http.Response, error) {
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = a.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	// The API key goes to the exchange only: never to another host a URL names (a
	// signed link needs none, an S3 endpoint takes its own signatures).
	if a.key != "" && sameOrigin(req.URL, a.base) {
		req.Header.Set("Authorization", "Bearer "+a.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 300 {
		defer res.Body.Close()
		var p struct {
			Detail string `json:"detail"`
		}
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
		if json.Unmarshal(raw, &p) != nil || p.Detail == "" {
			p.Detail = strings.TrimSpace(string(raw))
		}
		return res, &apiError{Status: res.StatusCode, Detail: p.Detail}
	}
	return res, nil
}

// sameOrigin reports whether u is on the exchange's scheme, host and port.
func sameOrigin(u *url.URL, base string) bool {
	b, err := url.Parse(base)
	return err == nil && strings.EqualFold(u.Scheme, b.Scheme) && strings.EqualFold(u.Host, b.Host)
}

// call sends a JSON request and decodes the JSON answer into out.
func (a *exchangeClient) call(ctx context.Context, method, path string, in, out any, headers ...string) (*http.Response, error) {
	var body io.Reader
	var size int64
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body, size = strings.NewReader(string(b)), int64(len(b))
		headers = append(headers, "Content-Type", "application/json")
	}
	res, err := a.request(ctx, method, path, body, size, headers...)
	if err != nil {
		return res, err
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res, fmt.Errorf("%s %s: the answer is not JSON: %w", method, path, err)
		}
	}
	return res, nil
}

func clientFlags(fs *flag.FlagSet, getenv func(string) string) *exchangeClient {
	a := &exchangeClient{http: &http.Client{}}
	def := getenv("DATAPORT_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs.StringVar(&a.base, "url", def, "the exchange's URL (DATAPORT_URL)")
	fs.StringVar(&a.key, "key", getenv("DATAPORT_KEY"), "an API key (DATAPORT_KEY)")
	return a
}

func bar(w io.Writer, size int64, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true), progressbar.OptionShowCount(), progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
}

// putCmd uploads files of a product revision, resumably: an interrupted run resumes
// where the server's copy ends when it is run again.
func putCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := clientFlags(fs, getenv)
	product := fs.String("product", "", "the product id")
	revision := fs.Int64("revision", 0, "the product revision the files belong to")
	as := fs.String("as", "", "the path in the revision, for a single file (default: its name; for a folder, paths under it)")
	seal := fs.Bool("seal", false, "seal the revision's manifest after uploading")
	chunk := fs.Int64("chunk", 32<<20, "bytes per request")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: dataport put -product ID -revision N [-as PATH] [-seal] FILE|FOLDER...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *product == "" || *revision <= 0 || (fs.NArg() == 0 && !*seal) || *chunk <= 0 {
		fs.Usage()
		return fmt.Errorf("put needs -product, -revision and files: %w", errUsage)
	}
	type item struct{ local, path string }
	var items []item
	for _, arg := range fs.Args() {
		info, err := os.Stat(arg)
		if err != nil {
			return err
		}
		if !info.IsDir() {
			p := filepath.ToSlash(filepath.Base(arg))
			if *as != "" {
				p = *as
			}
			items = append(items, item{arg, p})
			continue
		}
		err = filepath.WalkDir(arg, func(f string, d iofs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(arg, f)
			p := filepath.ToSlash(rel)
			if *as != "" {
				p = strings.TrimSuffix(*as, "/") + "/" + p
			}
			items = append(items, item{f, p})
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(items) > 1 && *as != "" && fs.NArg() > 1 {
		return fmt.Errorf("-as names one file's path; give one file or one folder: %w", errUsage)
	}
	for _, it := range items {
		if !delivery.ValidPath(it.path) {
			return fmt.Errorf("%s: %q is not a path a revision can hold (relative, no . or .. segments)", it.local, it.path)
		}
		if err := a.upload(ctx, *product, *revision, it.local, it.path, *chunk, stderr); err != nil {
			return fmt.Errorf("%s: %w", it.local, err)
		}
		fmt.Fprintf(stdout, "uploaded %s\n", it.path)
	}
	if *seal {
		var m delivery.Manifest
		if _, err := a.call(ctx, "POST", fmt.Sprintf("/api/v1/products/%s/revisions/%d/manifest", url.PathEscape(*product), *revision), nil, &m); err != nil {
			return fmt.Errorf("seal: %w", err)
		}
		fmt.Fprintf(stdout, "sealed revision %d: %d files, %d bytes, Merkle root %s, filed as entry %d\n", m.Revision, len(m.Files), m.Bytes, m.MerkleRoot, m.FilingSeq)
	}
	return nil
}

// upload sends one file, resuming an upload an earlier run left open.
func (a *exchangeClient) upload(ctx context.Context, product string, rev int64, local, path string, chunk int64, progress io.Writer) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(h, bar(progress, info.Size(), "hashing "+path)), f); err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	state := resumeFile(a.base, product, strconv.FormatInt(rev, 10), path, sum)
	var u struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Received int64  `json:"received"`
	}
	if id, err := os.ReadFile(state); err == nil {
		if _, err := a.call(ctx, "GET", "/api/v1/uploads/"+url.PathEscape(strings.TrimSpace(string(id))), nil, &u); err != nil || u.State != "open" {
			u.ID = ""
		}
	}
	if u.ID == "" {
		body := map[string]any{"path": path, "size": info.Size(), "sha256": sum}
		if _, err := a.call(ctx, "POST", fmt.Sprintf("/api/v1/products/%s/revisions/%d/uploads", url.PathEscape(product), rev), body, &u); err != nil {
			return err
		}
		os.MkdirAll(filepath.Dir(state), 0o700)
		os.WriteFile(state, []byte(u.ID), 0o600)
	}
	b := bar(progress, info.Size(), "uploading "+path)
	b.Set64(u.Received)
	for failures := 0; u.State == "open"; {
		n := min(chunk, info.Size()-u.Received)
		body := io.TeeReader(io.NewSectionReader(f, u.Received, n), b)
		res, err := a.request(ctx, "PATCH", "/api/v1/uploads/"+u.ID, body, n, "Upload-Offset", strconv.FormatInt(u.Received, 10), "Content-Type", "application/octet-stream")
		if err == nil {
			err = json.NewDecoder(res.Body).Decode(&u)
			res.Body.Close()
		}
		if err == nil {
			failures = 0
			continue
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.Status != http.StatusConflict && ae.Status < 500 {
			return err
		}
		if failures++; failures > 5 || ctx.Err() != nil {
			return err
		}
		// A broken request: ask where the server's copy ends and go on from there.
		time.Sleep(time.Duration(failures) * time.Second)
		if _, err := a.call(ctx, "GET", "/api/v1/uploads/"+u.ID, nil, &u); err != nil {
			return err
		}
		b.Set64(u.Received)
	}
	os.Remove(state)
	return nil
}

// resumeFile is where put remembers an open upload of a file, to resume it.
func resumeFile(parts ...string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return filepath.Join(dir, "dataport", "uploads", hex.EncodeToString(h[:16]))
}

// getCmd downloads a deal's file, a signed link or an object of the mirror's S3
// endpoint, resuming a partial download (OUT.part) and checking what arrived.
func getCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := clientFlags(fs, getenv)
	deal := fs.String("deal", "", "download this deal's file PATH, checked against the filed manifest")
	out := fs.String("o", "", "where to write (default: the file's name in the current folder)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: dataport get -deal ID [-o FILE] PATH     a deal's file, checked against the filed manifest")
		fmt.Fprintln(stderr, "       dataport get [-o FILE] URL              a signed link, or an object of the mirror's S3 endpoint")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("get takes one PATH or URL: %w", errUsage)
	}
	target := fs.Arg(0)
	var want *delivery.FileProof
	var root string
	if *deal != "" {
		var m struct {
			delivery.Manifest
			Proof *delivery.FileProof `json:"proof"`
		}
		q := "/api/v1/deals/" + url.PathEscape(*deal) + "/manifest?path=" + url.QueryEscape(target)
		if _, err := a.call(ctx, "GET", q, nil, &m); err != nil {
			return err
		}
		if err := checkProof(m.Proof, m.MerkleRoot); err != nil {
			return err
		}
		want, root = m.Proof, m.MerkleRoot
		target = a.base + "/api/v1/deals/" + url.PathEscape(*deal) + "/download?path=" + url.QueryEscape(target)
	} else if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		return fmt.Errorf("%q is not a URL; for a deal's file give -deal: %w", target, errUsage)
	}
	dest := *out
	if dest == "" {
		u, _ := url.Parse(target)
		name := u.Query().Get("path")
		if name == "" {
			name = u.Path
		}
		dest = filepath.Base(name)
	}
	sum, size, err := a.fetch(ctx, target, dest, stderr)
	if err != nil {
		return err
	}
	if want != nil {
		if sum != want.File.SHA256 || size != want.File.Size {
			os.Remove(dest)
			return fmt.Errorf("%s: got %d bytes hashing to %s; the manifest says %d bytes, %s", dest, size, sum, want.File.Size, want.File.SHA256)
		}
		fmt.Fprintf(stdout, "%s: %d bytes, SHA-256 %s: matches the filed manifest (Merkle root %s)\n", dest, size, sum, root)
		return nil
	}
	fmt.Fprintf(stdout, "%s: %d bytes, SHA-256 %s\n", dest, size, sum)
	return nil
}

// checkProof checks a file's inclusion proof against the manifest's root.
func checkProof(p *delivery.FileProof, root string) error {
	if p == nil {
		return errors.New("the manifest came without the file's proof")
	}
	var proof [][]byte
	for _, s := range p.Proof {
		b, err := hex.DecodeString(s)
		if err != nil {
			return fmt.Errorf("the proof is not hex: %w", err)
		}
		proof = append(proof, b)
	}
	r, err := hex.DecodeString(root)
	if err != nil {
		return err
	}
	if err := ledger.CheckInclusion(proof, p.Index, p.Size, ledger.LeafHash(delivery.Leaf(p.File)), r); err != nil {
		return fmt.Errorf("the file's proof does not check against the manifest's root: %w", err)
	}
	return nil
}

// fetch downloads target to dest through dest.part, resuming a partial download of
// the same content (If-Range on its ETag), and returns the SHA-256 and size of what
// it wrote. A 64-hex ETag (dataport's) must equal the SHA-256; a plain 32-hex ETag
// (an S3 object uploaded in one part) must equal the MD5.
func (a *exchangeClient) fetch(ctx context.Context, target, dest string, progress io.Writer) (string, int64, error) {
	part := dest + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	sh, mh := sha256.New(), md5.New()
	have, err := io.Copy(io.MultiWriter(sh, mh), f)
	if err != nil {
		return "", 0, err
	}
	etagFile := part + ".etag"
	etag, _ := os.ReadFile(etagFile)
	headers := []string{}
	if have > 0 && len(etag) > 0 {
		headers = append(headers, "Range", fmt.Sprintf("bytes=%d-", have), "If-Range", string(etag))
	}
	res, err := a.request(ctx, "GET", target, nil, 0, headers...)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusRequestedRangeNotSatisfiable {
			// The part holds the whole file already: check it below.
			res = nil
		} else {
			return "", 0, err
		}
	}
	size := have
	if res != nil {
		defer res.Body.Close()
		if res.StatusCode != http.StatusPartialContent { // the whole file: start over
			if err := f.Truncate(0); err != nil {
				return "", 0, err
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return "", 0, err
			}
			have, sh, mh = 0, sha256.New(), md5.New()
		}
		if e := res.Header.Get("ETag"); e != "" {
			etag = []byte(e)
			os.WriteFile(etagFile, etag, 0o644)
		}
		total := have + res.ContentLength
		b := bar(progress, total, "downloading "+filepath.Base(dest))
		b.Set64(have)
		n, err := io.Copy(io.MultiWriter(f, sh, mh, b), res.Body)
		size = have + n
		if err != nil {
			f.Sync()
			return "", 0, fmt.Errorf("the download broke off after %d bytes (kept in %s; run again to resume): %w", size, part, err)
		}
	}
	if err := f.Sync(); err != nil {
		return "", 0, err
	}
	sum := hex.EncodeToString(sh.Sum(nil))
	if err := checkETag(strings.Trim(string(etag), `"`), sum, hex.EncodeToString(mh.Sum(nil))); err != nil {
		os.Remove(part)
		os.Remove(etagFile)
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		return "", 0, err
	}
	os.Remove(etagFile)
	return sum, size, os.Rename(part, dest)
}

func checkETag(etag, sha, md string) error {
	switch {
	case len(etag) == 64 && etag != sha:
		return fmt.Errorf("the content hashes to %s, not its ETag %s", sha, etag)
	case len(etag) == 32 && !strings.Contains(etag, "-") && etag != md:
		return fmt.Errorf("the content's MD5 is %s, not its ETag %s", md, etag)
	}
	return nil
}
