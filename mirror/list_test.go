package mirror

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dataport/dataport/s3api"
)

func s3apiQuery(prefix, delimiter string, maxKeys int) s3api.ListQuery {
	return s3api.ListQuery{Prefix: prefix, Delimiter: delimiter, MaxKeys: maxKeys}
}

// listAll pages through a listing, checking each page's size.
func listAll(t *testing.T, c *Cache, up Upstream, q s3api.ListQuery) (keys, prefixes []string, pages int) {
	t.Helper()
	for {
		page, err := c.List(context.Background(), up, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if n := len(page.Objects) + len(page.CommonPrefixes); n > q.MaxKeys {
			t.Fatalf("page of %d entries for MaxKeys %d", n, q.MaxKeys)
		}
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		prefixes = append(prefixes, page.CommonPrefixes...)
		if !page.Truncated {
			return keys, prefixes, pages
		}
		if page.Next == "" || pages > 100 {
			t.Fatalf("truncated page without a usable token: %+v", page)
		}
		q.Token, q.StartAfter = page.Next, ""
	}
}

func TestList(t *testing.T) {
	e := newEnv(t)
	for _, k := range []string{"list/a/1", "list/a/2", "list/b/1", "list/c", "list/d", "list/e f", "list/中/文", "outside"} {
		e.put(k, []byte("content of "+k))
	}
	clock := newClock()
	c, _ := e.openCache(Options{ListTTL: time.Minute, Now: clock.now})
	up := e.upstream("open-data")
	ctx := context.Background()

	keys, prefixes, pages := listAll(t, c, up, s3apiQuery("list/", "/", 2))
	if want := []string{"list/c", "list/d", "list/e f"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if want := []string{"list/a/", "list/b/", "list/中/"}; !slices.Equal(prefixes, want) {
		t.Errorf("prefixes %q, want %q", prefixes, want)
	}
	if pages < 3 {
		t.Errorf("%d pages of at most 2 for 6 entries", pages)
	}

	keys, _, _ = listAll(t, c, up, s3apiQuery("list/a/", "", 1000))
	if want := []string{"list/a/1", "list/a/2"}; !slices.Equal(keys, want) {
		t.Errorf("recursive keys %q, want %q", keys, want)
	}
	q := s3apiQuery("list/", "", 1000)
	q.StartAfter = "list/c"
	keys, _, _ = listAll(t, c, up, q)
	if want := []string{"list/d", "list/e f", "list/中/文"}; !slices.Equal(keys, want) {
		t.Errorf("start-after keys %q, want %q", keys, want)
	}

	page, err := c.List(ctx, up, s3apiQuery("list/a/", "", 10))
	if err != nil {
		t.Fatal(err)
	}
	if o := page.Objects[0]; o.ETag != md5hex(e.data["list/a/1"]) || o.Size != int64(len(e.data["list/a/1"])) || o.LastModified.IsZero() {
		t.Errorf("listed object %+v", o)
	}

	// Within the TTL a listing is served from memory; after it the upstream is
	// asked again.
	before := e.proxy.listCount()
	again, err := c.List(ctx, up, s3apiQuery("list/a/", "", 10))
	if err != nil || !slices.Equal(again.Objects, page.Objects) {
		t.Fatalf("cached listing: %+v %v", again, err)
	}
	again.Objects[0].Key = "changed by the caller"
	clock.advance(59 * time.Second)
	if again, _ = c.List(ctx, up, s3apiQuery("list/a/", "", 10)); again.Objects[0].Key != "list/a/1" {
		t.Fatal("a caller changed the cached page")
	}
	if n := e.proxy.listCount(); n != before {
		t.Fatalf("%d upstream listings within the TTL", n-before)
	}
	clock.advance(2 * time.Second)
	if _, err := c.List(ctx, up, s3apiQuery("list/a/", "", 10)); err != nil {
		t.Fatal(err)
	}
	if n := e.proxy.listCount(); n != before+1 {
		t.Fatalf("%d upstream listings after the TTL, want 1", n-before)
	}
	if u := c.Usage(); u.Lists != int64(e.proxy.listCount()) {
		t.Fatalf("usage counts %d listings, the upstream saw %d", u.Lists, e.proxy.listCount())
	}

	// An upstream that exposes only a prefix shows keys without it.
	view := e.upstream("list-view")
	view.Prefix = e.prefix + "list/"
	keys, prefixes, _ = listAll(t, c, view, s3apiQuery("", "/", 1000))
	if want := []string{"c", "d", "e f"}; !slices.Equal(keys, want) {
		t.Errorf("view keys %q, want %q", keys, want)
	}
	if want := []string{"a/", "b/", "中/"}; !slices.Equal(prefixes, want) {
		t.Errorf("view prefixes %q, want %q", prefixes, want)
	}
	keys, _, _ = listAll(t, c, view, s3api.ListQuery{StartAfter: "c", MaxKeys: 1000})
	if want := []string{"d", "e f", "中/文"}; !slices.Equal(keys, want) {
		t.Errorf("view start-after keys %q, want %q", keys, want)
	}
	if got := get(t, c, view, "中/文", 0, -1); !bytes.Equal(got, e.data["list/中/文"]) {
		t.Fatalf("Get through the view: %q", got)
	}
	if info, err := c.Head(ctx, view, "a/1"); err != nil || info.Key != "a/1" || info.Size != int64(len(e.data["list/a/1"])) {
		t.Fatalf("Head through the view: %+v %v", info, err)
	}
	if _, err := c.Head(ctx, view, "outside"); err == nil {
		t.Fatal("the view shows an object outside its prefix")
	}
}
