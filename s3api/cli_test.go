package s3api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dataport/dataport/internal/testenv"
)

// toolEnv is a clean environment for a client: its own HOME, and none of the
// AWS_* variables of the machine (AWS_CA_BUNDLE in particular breaks rclone's
// plain-HTTP requests) nor RCLONE_*/S3CMD settings.
func toolEnv(t *testing.T, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "RCLONE_") || k == "HOME" ||
			k == "HTTP_PROXY" || k == "HTTPS_PROXY" || k == "http_proxy" || k == "https_proxy" {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HOME="+t.TempDir()), extra...)
}

func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func mustRun(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkDownloaded compares the files under dir with the bucket's objects.
func checkDownloaded(t *testing.T, s *testServer, bucket, dir string, want []string) {
	t.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		key := filepath.ToSlash(rel)
		got = append(got, key)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, s.backend.fileBytes(t, bucket, key)) {
			t.Errorf("%s/%s: downloaded bytes differ (%d bytes)", bucket, key, len(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("downloaded %q\nwant %q", got, want)
	}
}

func privateKeys() []string {
	return []string{"notes/2024/minutes.txt", "notes/readme.md", privateKey}
}

// s3URIs takes the s3:// URIs from s3cmd ls output, one per line, at the end.
func s3URIs(out string) []string {
	var uris []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if i := strings.Index(line, "s3://"); i >= 0 {
			uris = append(uris, line[i:])
		}
	}
	return uris
}

func TestS3cmd(t *testing.T) {
	s3cmd := testenv.Tool(t, "DATAPORT_TEST_S3CMD", "s3cmd")
	s := newTestServer(t, Options{})
	config := func(host string, v2 bool) string {
		cfg := filepath.Join(t.TempDir(), "s3cfg")
		err := os.WriteFile(cfg, []byte(strings.Join([]string{
			"[default]",
			"access_key = " + testAccessKey,
			"secret_key = " + testSecretKey,
			"host_base = " + host,
			"host_bucket = " + host,
			"use_https = False",
			"signature_v2 = " + map[bool]string{false: "False", true: "True"}[v2],
			"bucket_location = us-east-1",
			"",
		}, "\n")), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := config(s.host(), false)
	env := toolEnv(t)

	t.Run("ls", func(t *testing.T) {
		got := s3URIs(mustRun(t, env, s3cmd, "-c", cfg, "ls"))
		if want := []string{"s3://open-data", "s3://private"}; !slices.Equal(got, want) {
			t.Errorf("buckets %q", got)
		}
		got = s3URIs(mustRun(t, env, s3cmd, "-c", cfg, "ls", "s3://"+publicBucket))
		want := []string{"s3://open-data/data/", "s3://open-data/many/", "s3://open-data/with space/", "s3://open-data/数据/",
			"s3://open-data/README.txt", "s3://open-data/a&b=c~d.txt", "s3://open-data/big.bin", "s3://open-data/empty.txt",
			"s3://open-data/percent%41.txt", "s3://open-data/plus+sign.txt"}
		if !slices.Equal(got, want) {
			t.Errorf("ls:\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("ls -r", func(t *testing.T) {
		for _, bucket := range []string{publicBucket, privateBucket} {
			want := publicKeys()
			if bucket == privateBucket {
				want = privateKeys()
			}
			for i, k := range want {
				want[i] = "s3://" + bucket + "/" + k
			}
			got := s3URIs(mustRun(t, env, s3cmd, "-c", cfg, "ls", "-r", "s3://"+bucket))
			if !slices.Equal(got, want) {
				t.Errorf("ls -r %s:\n%q\nwant\n%q", bucket, got, want)
			}
		}
	})
	t.Run("get", func(t *testing.T) {
		dir := t.TempDir()
		for _, key := range []string{chineseKey, spaceKey, "plus+sign.txt", "percent%41.txt", bigKey, "empty.txt"} {
			dst := filepath.Join(dir, strings.ReplaceAll(key, "/", "_"))
			mustRun(t, env, s3cmd, "-c", cfg, "get", "s3://"+publicBucket+"/"+key, dst)
			b, err := os.ReadFile(dst)
			if err != nil || !bytes.Equal(b, s.backend.fileBytes(t, publicBucket, key)) {
				t.Errorf("get %q: %v, %d bytes", key, err, len(b))
			}
		}
		rdir := t.TempDir()
		mustRun(t, env, s3cmd, "-c", cfg, "get", "--recursive", "s3://"+privateBucket+"/", rdir+"/")
		checkDownloaded(t, s, privateBucket, rdir, privateKeys())
	})
	t.Run("errors", func(t *testing.T) {
		if _, err := run(t, env, s3cmd, "-c", cfg, "get", "s3://"+publicBucket+"/missing.txt", filepath.Join(t.TempDir(), "m")); err == nil {
			t.Error("get of a missing key succeeded")
		}
		if _, err := run(t, env, s3cmd, "-c", cfg, "put", cfg, "s3://"+privateBucket+"/new.txt"); err == nil {
			t.Error("put succeeded")
		}
	})
	t.Run("other region", func(t *testing.T) {
		// s3cmd configured for us-east-1 learns eu-central-1 from the <Region> of
		// S3's AuthorizationHeaderMalformed and signs again.
		eu := newTestServer(t, Options{Region: "eu-central-1"})
		cfg := config(eu.host(), false)
		if got := s3URIs(mustRun(t, env, s3cmd, "-c", cfg, "ls")); len(got) != 2 {
			t.Errorf("ls: %q", got)
		}
		got := s3URIs(mustRun(t, env, s3cmd, "-c", cfg, "ls", "-r", "s3://"+privateBucket))
		if len(got) != len(privateKeys()) {
			t.Errorf("ls -r: %q", got)
		}
	})
	t.Run("signature_v2 = True switches to v4", func(t *testing.T) {
		// S3's answer to a V2 signature names AWS4-HMAC-SHA256; s3cmd recognises it.
		got := s3URIs(mustRun(t, env, s3cmd, "-c", config(s.host(), true), "ls", "s3://"+privateBucket+"/notes/"))
		if want := []string{"s3://private/notes/2024/", "s3://private/notes/readme.md"}; !slices.Equal(got, want) {
			t.Errorf("%q", got)
		}
	})
}

func TestRclone(t *testing.T) {
	rclone := testenv.Tool(t, "DATAPORT_TEST_RCLONE", "rclone")
	s := newTestServer(t, Options{})
	remote := func(name, access, secret string) []string {
		p := "RCLONE_CONFIG_" + strings.ToUpper(name) + "_"
		env := []string{p + "TYPE=s3", p + "PROVIDER=Other", p + "ENDPOINT=" + s.URL, p + "FORCE_PATH_STYLE=true", p + "REGION=us-east-1"}
		if access != "" {
			env = append(env, p+"ACCESS_KEY_ID="+access, p+"SECRET_ACCESS_KEY="+secret)
		}
		return env
	}
	env := toolEnv(t, slices.Concat(remote("dp", testAccessKey, testSecretKey), remote("anon", "", ""),
		remote("bad", testAccessKey, "wrong"), []string{"RCLONE_CONFIG=" + filepath.Join(t.TempDir(), "none.conf")})...)

	t.Run("lsd", func(t *testing.T) {
		out := mustRun(t, env, rclone, "lsd", "dp:")
		if !strings.Contains(out, " open-data\n") || !strings.Contains(out, " private\n") {
			t.Errorf("lsd:\n%s", out)
		}
	})
	t.Run("ls", func(t *testing.T) {
		for _, tc := range []struct {
			remote string
			want   []string
		}{{"anon:" + publicBucket, publicKeys()}, {"dp:" + publicBucket, publicKeys()}, {"dp:" + privateBucket, privateKeys()}} {
			out := mustRun(t, env, rclone, "ls", tc.remote)
			var got []string
			for line := range strings.SplitSeq(strings.TrimRight(out, "\n"), "\n") {
				// "    size path"
				_, p, _ := strings.Cut(strings.TrimLeft(line, " "), " ")
				got = append(got, p)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("ls %s:\n%q\nwant\n%q", tc.remote, got, tc.want)
			}
		}
	})
	t.Run("lsjson", func(t *testing.T) {
		out := mustRun(t, env, rclone, "lsjson", "dp:"+publicBucket+"/data")
		var items []struct {
			Path  string
			Size  int64
			IsDir bool
		}
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range items {
			got = append(got, fmt.Sprintf("%s %v", it.Path, it.IsDir))
		}
		sort.Strings(got)
		if want := []string{"2024 true", "2025 true", "summary.json false"}; !slices.Equal(got, want) {
			t.Errorf("lsjson: %q", got)
		}
		out = mustRun(t, env, rclone, "lsjson", "-R", "--files-only", "--hash", "dp:"+publicBucket+"/数据")
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatal(err)
		}
		info, _ := s.backend.stat(publicBucket, chineseKey)
		if len(items) != 1 || items[0].Path != "报告 2024.csv" || items[0].Size != info.Size || !strings.Contains(out, info.ETag) {
			t.Errorf("lsjson -R:\n%s", out)
		}
	})
	t.Run("copy", func(t *testing.T) {
		dir := t.TempDir()
		mustRun(t, env, rclone, "copy", "anon:"+publicBucket, dir)
		checkDownloaded(t, s, publicBucket, dir, publicKeys())

		dir = t.TempDir()
		mustRun(t, env, rclone, "copy", "dp:"+privateBucket, dir)
		checkDownloaded(t, s, privateBucket, dir, privateKeys())

		// A single object, which rclone looks up with HeadObject first.
		dir = t.TempDir()
		mustRun(t, env, rclone, "copy", "dp:"+publicBucket+"/"+chineseKey, dir)
		b, err := os.ReadFile(filepath.Join(dir, "报告 2024.csv"))
		if err != nil || !bytes.Equal(b, s.backend.fileBytes(t, publicBucket, chineseKey)) {
			t.Errorf("single object: %v %q", err, b)
		}
		if out := mustRun(t, env, rclone, "cat", "--offset", "6", "--count", "7", "dp:"+publicBucket+"/README.txt"); out != "open da" {
			t.Errorf("cat range: %q", out)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		if _, err := run(t, env, rclone, "ls", "anon:"+privateBucket); err == nil {
			t.Error("anonymous listing of the private bucket succeeded")
		}
		if _, err := run(t, env, rclone, "--retries", "1", "--low-level-retries", "1", "ls", "bad:"+privateBucket); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
			t.Errorf("wrong secret: %v", err)
		}
		src := filepath.Join(t.TempDir(), "up.txt")
		os.WriteFile(src, []byte("upload"), 0o644)
		if _, err := run(t, env, rclone, "--retries", "1", "--low-level-retries", "1", "copy", src, "dp:"+privateBucket); err == nil {
			t.Error("upload succeeded")
		}
	})
}
