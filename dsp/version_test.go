package dsp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
)

func versionServer(t *testing.T) *httptest.Server {
	t.Helper()
	h, err := dsp.VersionHandler(dsp.Metadata("/dsp/2025-1", dsp.APIKeys{}))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(dsp.WellKnownPath, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// The version metadata is served to anyone, as JSON that validates, naming 2025-1
// and where its endpoints are; other methods are refused.
func TestVersionHandler(t *testing.T) {
	srv := versionServer(t)
	resp, err := http.Get(srv.URL + "/.well-known/dspace-version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	want := `{"protocolVersions": [{"version": "2025-1", "path": "/dsp/2025-1", "binding": "HTTPS",
		"auth": {"protocol": "dataport-api-key", "version": "1"}}]}`
	if !jsonEqual(t, body, []byte(want)) {
		t.Fatalf("got %s", body)
	}
	var v dsp.VersionResponse
	if err := dsp.Decode(body, &v); err != nil {
		t.Fatal(err)
	}

	resp, err = http.Head(srv.URL + "/.well-known/dspace-version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("HEAD: %d, %d bytes", resp.StatusCode, len(body))
	}

	resp, err = http.Post(srv.URL+"/.well-known/dspace-version", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// Metadata the schema refuses makes no handler.
func TestVersionHandlerRefusesInvalidMetadata(t *testing.T) {
	for name, v := range map[string]dsp.VersionResponse{
		"no version":      {},
		"no binding":      {ProtocolVersions: []dsp.ProtocolVersion{{Version: dsp.Version, Path: "/dsp"}}},
		"unknown binding": {ProtocolVersions: []dsp.ProtocolVersion{{Version: dsp.Version, Path: "/dsp", Binding: "MQTT"}}},
	} {
		if _, err := dsp.VersionHandler(v); dataport.KindOf(err) != dataport.KindInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}
