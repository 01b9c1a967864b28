package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/trade/tradetest"
)

// benchFileSize is the size of the file both servers send: large enough that a
// request's fixed costs (authentication, entitlement, the delivery's filings)
// vanish beside the bytes.
const benchFileSize = 1 << 30

// BenchmarkDownloadVsNginx compares the throughput of a whole-file download from
// the API with nginx serving the very same file (a hard link to the blob) on
// loopback to the same client. The goal is dataport at 0.9 of nginx or better,
// with the server's memory flat however large the file.
//
// nginx runs as a single process (master_process off, one worker): a download is
// one connection, which one nginx worker serves whatever worker_processes says,
// just as one goroutine serves it in dataport; on a 2-core machine that leaves the
// other core to the client. It sends with sendfile on and access_log off.
//
// nginx and dataport measure each server alone; paired alternates them download
// by download and reports the median of the pairs' ratios, the figure to trust
// when the machine's speed drifts; curl/… repeat the three with curl as client.
// dataport's memory figures come from this process, which the client shares.
//
// The nginx binary is $DATAPORT_TEST_NGINX, else /usr/sbin/nginx; without one the
// benchmark is skipped, except in CI (CI=true), where it fails.
//
//	go test -run XXX -bench DownloadVsNginx -benchtime 5x ./api/
func BenchmarkDownloadVsNginx(b *testing.B) {
	nginxBin := nginxPath(b)
	ctx := context.Background()

	w := tradetest.New(b, store.SQLite)
	svc, err := delivery.New(w.DB, w.Reg, w.Blobs, w.Deals, delivery.Options{StagingDir: b.TempDir(), LinkKey: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	// The file: pseudo-random bytes (incompressible, nothing to gain from a cache
	// of repeated content), streamed into the store, never whole in memory.
	h := sha256.New()
	content := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{'d', 'p'}), benchFileSize), h)
	f, err := svc.PutFile(ctx, w.Supplier, w.Product.ID, w.Product.ListedRevision,
		delivery.NewUpload{Path: "freight/rates.bin", Size: benchFileSize}, content)
	if err != nil {
		b.Fatal(err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if f.SHA256 != sum {
		b.Fatalf("stored as %s, the bytes hash to %s", f.SHA256, sum)
	}
	if _, err := svc.Seal(ctx, w.Supplier, w.Product.ID, w.Product.ListedRevision); err != nil {
		b.Fatal(err)
	}
	_, buyerKey, err := w.Reg.IssueKey(ctx, w.Buyer.ParticipantID, registry.NewAPIKey{Name: "bench", Roles: w.Buyer.Roles})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.NewServer(api.Deps{DB: w.DB, Registry: w.Reg, Catalog: w.Cat, Compliance: w.Rules, Trade: w.Deals,
		Delivery: svc, Filings: ledger.NewReader(w.DB), Log: w.Log, Version: "bench"}))
	defer srv.Close()

	ngx := startNginx(b, nginxBin, filepath.Join(w.Blobs.Root(), "sha256", sum[:2], sum[2:4], sum))
	defer ngx.stop()

	// One client for both servers. It reads in 256 KiB pieces, so that the client's
	// syscalls are not what limits either side.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, ReadBufferSize: 256 << 10}}
	defer client.CloseIdleConnections()
	buf := make([]byte, 256<<10)
	var ttfb time.Duration // until the response's header: the request's fixed cost
	get := func(b *testing.B, url, key string) *http.Response {
		req, _ := http.NewRequest("GET", url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		ttfb += time.Since(start)
		defer res.Body.Close()
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, res.Body, buf)
		if err != nil || res.StatusCode != http.StatusOK || n != benchFileSize {
			b.Fatalf("GET %s: %d, %d bytes, %v", url, res.StatusCode, n, err)
		}
		return res
	}
	// newDeal makes a deal whose entitlement covers n downloads and a warm-up.
	newDeal := func(b *testing.B, n int) string {
		d := w.Finalized(ctx, w.Buyer, trade.NewDeal{Scenario: "research", Purpose: "academic", DeliveryMode: "file", Price: 500_000, MaxUses: int64(n) + 1})
		return srv.URL + "/api/v1/deals/" + d.ID + "/download?path=freight/rates.bin"
	}
	// Each dataport side reports its throughput as a fraction of nginx's with the
	// same client, measured just before.
	rates := map[string]float64{}
	rate := func(b *testing.B, side string) {
		rates[side] = float64(b.N) * benchFileSize / b.Elapsed().Seconds() / 1e6 // the last run, with the largest b.N, stays
		if nginx, ok := strings.CutSuffix(side, "dataport"); ok && rates[nginx+"nginx"] > 0 {
			b.ReportMetric(rates[side]/rates[nginx+"nginx"], "of-nginx")
		}
	}

	b.Run("nginx", func(b *testing.B) {
		rss0 := ngx.rss(b)
		get(b, ngx.url, "")
		b.SetBytes(benchFileSize)
		ttfb = 0
		b.ResetTimer()
		for range b.N {
			get(b, ngx.url, "")
		}
		b.StopTimer()
		rate(b, "nginx")
		b.ReportMetric(ttfb.Seconds()*1e3/float64(b.N), "ms-to-header")
		b.ReportMetric(float64(ngx.rss(b)-rss0)/1e6, "rss-growth-MB")
	})

	b.Run("dataport", func(b *testing.B) {
		url := newDeal(b, b.N)
		res := get(b, url, buyerKey)
		if res.Header.Get("ETag") != strconv.Quote(sum) {
			b.Fatalf("ETag %s, the file's SHA-256 is %s", res.Header.Get("ETag"), sum)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		peak := watchHeap()
		b.SetBytes(benchFileSize)
		ttfb = 0
		b.ResetTimer()
		for range b.N {
			get(b, url, buyerKey)
		}
		b.StopTimer()
		runtime.ReadMemStats(&after)
		rate(b, "dataport")
		b.ReportMetric(ttfb.Seconds()*1e3/float64(b.N), "ms-to-header")
		// The client runs in this process too: these figures bound the server's.
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/1e6, "heap-growth-MB")
		b.ReportMetric(float64(int64(peak())-int64(before.HeapInuse))/1e6, "peak-heap-growth-MB")
		b.ReportMetric(float64(int64(after.Sys)-int64(before.Sys))/1e6, "sys-growth-MB")
	})

	// The machine's speed drifts (other load, a virtual machine's neighbours) more
	// than the two servers differ, so paired runs alternate them download by
	// download and take the median of the pairs' ratios.
	goGet := func(b *testing.B, url, key string) time.Duration {
		start := time.Now()
		get(b, url, key)
		return time.Since(start)
	}
	b.Run("paired", func(b *testing.B) {
		pairs(b, goGet, ngx.url, newDeal(b, b.N), buyerKey)
	})

	// The same with curl as the client, as the issue's nginx figure was taken.
	if curl, err := exec.LookPath("curl"); err == nil {
		curlGet := func(b *testing.B, url, key string) time.Duration { return curlDownload(b, curl, url, key) }
		b.Run("curl/nginx", func(b *testing.B) {
			curlDownloads(b, curlGet, ngx.url, "")
			rate(b, "curl/nginx")
		})
		b.Run("curl/dataport", func(b *testing.B) {
			curlDownloads(b, curlGet, newDeal(b, b.N), buyerKey)
			rate(b, "curl/dataport")
		})
		b.Run("curl/paired", func(b *testing.B) {
			pairs(b, curlGet, ngx.url, newDeal(b, b.N), buyerKey)
		})
	}
}

// fetch downloads the whole file from url and says how long the transfer took.
type fetch func(b *testing.B, url, key string) time.Duration

// pairs runs b.N pairs of downloads, one from nginx and one from dataport, the
// order swapped from pair to pair, and reports each side's throughput and the
// median of the pairs' ratios.
func pairs(b *testing.B, get fetch, nginxURL, dataportURL, key string) {
	get(b, nginxURL, "")
	get(b, dataportURL, key)
	var tn, td time.Duration
	ratios := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		var n, d time.Duration
		if i%2 == 0 {
			n, d = get(b, nginxURL, ""), get(b, dataportURL, key)
		} else {
			d, n = get(b, dataportURL, key), get(b, nginxURL, "")
		}
		tn, td = tn+n, td+d
		ratios = append(ratios, n.Seconds()/d.Seconds())
	}
	b.StopTimer()
	slices.Sort(ratios)
	median := ratios[len(ratios)/2]
	if len(ratios)%2 == 0 {
		median = (ratios[len(ratios)/2-1] + median) / 2
	}
	b.ReportMetric(float64(b.N)*benchFileSize/tn.Seconds()/1e6, "nginx-MB/s")
	b.ReportMetric(float64(b.N)*benchFileSize/td.Seconds()/1e6, "dataport-MB/s")
	b.ReportMetric(median, "of-nginx")
}

// curlDownloads runs b.N downloads of url with curl (after one to warm up) and
// reports curl's own measure of the speed too.
func curlDownloads(b *testing.B, get fetch, url, key string) {
	get(b, url, key)
	b.SetBytes(benchFileSize)
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		total += get(b, url, key)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*benchFileSize/total.Seconds()/1e6, "curl-MB/s")
}

// curlDownload downloads url with curl, checks that the whole file came, and
// returns curl's own measure of the time the transfer took.
func curlDownload(b *testing.B, curl, url, key string) time.Duration {
	args := []string{"-s", "-S", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_total}"}
	if key != "" {
		args = append(args, "-H", "Authorization: Bearer "+key)
	}
	out, err := exec.Command(curl, append(args, url)...).Output()
	if err != nil {
		b.Fatalf("curl %s: %v", url, err)
	}
	var size int64
	var secs float64
	if _, err := fmt.Sscan(string(out), &size, &secs); err != nil || size != benchFileSize || secs <= 0 {
		b.Fatalf("curl %s: %q", url, out)
	}
	return time.Duration(secs * float64(time.Second))
}

// watchHeap samples the heap in use until the returned function is called, which
// reports the most it saw.
func watchHeap() func() uint64 {
	var (
		mu   sync.Mutex
		peak uint64
	)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func nginxPath(b *testing.B) string {
	p := os.Getenv("DATAPORT_TEST_NGINX")
	if p == "" {
		if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
			p = "/usr/sbin/nginx"
		}
	}
	if p == "" {
		testenv.Missing(b, "no nginx to compare with: install nginx or set DATAPORT_TEST_NGINX to its binary")
	}
	return p
}

type nginx struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
}

// startNginx runs nginx in the foreground from a configuration of its own in a
// temporary folder, serving file (by a hard link, else a symbolic one) as /file.
func startNginx(b *testing.B, bin, file string) *nginx {
	dir := b.TempDir()
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Link(file, filepath.Join(www, "file")); err != nil {
		if err := os.Symlink(file, filepath.Join(www, "file")); err != nil {
			b.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	default_type application/octet-stream;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen %[2]s;
		root %[3]s;
	}
}
`, dir, addr, www)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	n := &nginx{cmd: cmd, url: "http://" + addr + "/file", exited: make(chan struct{})}
	go func() { cmd.Wait(); close(n.exited) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return n
		}
		select {
		case <-n.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			b.Fatalf("nginx exited: %s\n%s", stderr.String(), log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			b.Fatalf("nginx does not listen on %s: %s", addr, stderr.String())
		}
	}
}

func (n *nginx) stop() {
	n.cmd.Process.Kill()
	<-n.exited
}

// rss is nginx's resident memory in bytes.
func (n *nginx) rss(b *testing.B) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		return 0 // not Linux: no figure
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("VmRSS %q", v)
			}
			return kb << 10
		}
	}
	return 0
}
