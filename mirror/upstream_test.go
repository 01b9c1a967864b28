package mirror

import (
	"strings"
	"testing"

	"github.com/dataport/dataport"
)

func TestFromARN(t *testing.T) {
	tests := []struct {
		name, arn, region string
		want              Upstream
		bad               string // the field at fault, "" for none
	}{
		{
			name: "noaa-ghcn", arn: "arn:aws:s3:::noaa-ghcn-pds", region: "us-east-1",
			want: Upstream{Name: "noaa-ghcn", Endpoint: "s3.us-east-1.amazonaws.com", Secure: true, Bucket: "noaa-ghcn-pds", Region: "us-east-1"},
		},
		{
			name: "sentinel-tiles", arn: "arn:aws:s3:::sentinel-s2-l1c/tiles/", region: "eu-central-1",
			want: Upstream{Name: "sentinel-tiles", Endpoint: "s3.eu-central-1.amazonaws.com", Secure: true, Bucket: "sentinel-s2-l1c", Region: "eu-central-1", Prefix: "tiles/"},
		},
		{
			name: "wildcard", arn: "arn:aws:s3:::bucket-x/data/*", region: "us-west-2",
			want: Upstream{Name: "wildcard", Endpoint: "s3.us-west-2.amazonaws.com", Secure: true, Bucket: "bucket-x", Region: "us-west-2", Prefix: "data/"},
		},
		{
			name: "china", arn: "arn:aws-cn:s3:::open-data-cn", region: "cn-north-1",
			want: Upstream{Name: "china", Endpoint: "s3.cn-north-1.amazonaws.com.cn", Secure: true, Bucket: "open-data-cn", Region: "cn-north-1"},
		},
		{name: "ok-name", arn: "arn:aws:s3:::noaa-ghcn-pds", region: "", bad: "region"},
		{name: "ok-name", arn: "noaa-ghcn-pds", region: "us-east-1", bad: "arn"},
		{name: "ok-name", arn: "arn:aws:s3::", region: "us-east-1", bad: "arn"},
		{name: "ok-name", arn: "arn:aws:s3:::", region: "us-east-1", bad: "arn"},
		{name: "ok-name", arn: "arn:aws:ec2:::noaa", region: "us-east-1", bad: "arn"},
		{name: "ok-name", arn: "arn:aws:s3:us-east-1:123456789012:noaa", region: "us-east-1", bad: "arn"},
		{name: "ok-name", arn: "arn:gcp:s3:::noaa", region: "us-east-1", bad: "arn"},
		{name: "ok-name", arn: "arn:aws:s3:::no", region: "us-east-1", bad: "bucket"},
		{name: "ok-name", arn: "arn:aws:s3:::noaa", region: "US East", bad: "region"},
		{name: "Bad_Name", arn: "arn:aws:s3:::noaa-ghcn-pds", region: "us-east-1", bad: "name"},
	}
	for _, tt := range tests {
		t.Run(tt.arn, func(t *testing.T) {
			got, err := FromARN(tt.name, tt.arn, tt.region)
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("FromARN: %v", err)
				}
				if got != tt.want {
					t.Fatalf("got %+v\nwant %+v", got, tt.want)
				}
				return
			}
			if dataport.KindOf(err) != dataport.KindInvalid {
				t.Fatalf("want an invalid error at %s, got %v", tt.bad, err)
			}
			if !hasField(err, tt.bad) {
				t.Fatalf("want a problem with %s, got %v", tt.bad, err)
			}
		})
	}
}

func hasField(err error, field string) bool {
	for _, f := range dataport.FieldsOf(err) {
		if f.Field == field {
			return true
		}
	}
	return false
}

func TestUpstreamValidate(t *testing.T) {
	good := Upstream{Name: "noaa-ghcn", Endpoint: "s3.us-east-1.amazonaws.com", Secure: true, Bucket: "noaa-ghcn-pds", Region: "us-east-1"}
	tests := []struct {
		desc   string
		change func(*Upstream)
		bad    []string
	}{
		{"good", func(*Upstream) {}, nil},
		{"host and port", func(u *Upstream) { u.Endpoint = "127.0.0.1:7070" }, nil},
		{"ipv6", func(u *Upstream) { u.Endpoint = "[::1]:9000" }, nil},
		{"dotted name", func(u *Upstream) { u.Name = "noaa.ghcn.v4" }, nil},
		{"legacy bucket", func(u *Upstream) { u.Bucket = "Legacy_Bucket" }, nil},
		{"keys", func(u *Upstream) { u.AccessKey, u.SecretKey = "AK", "SK" }, nil},
		{"no region", func(u *Upstream) { u.Region = "" }, nil},
		{"prefix", func(u *Upstream) { u.Prefix = "数据/2024/" }, nil},
		{"short name", func(u *Upstream) { u.Name = "ab" }, []string{"name"}},
		{"long name", func(u *Upstream) { u.Name = strings.Repeat("a", 64) }, []string{"name"}},
		{"upper name", func(u *Upstream) { u.Name = "NOAA" }, []string{"name"}},
		{"underscore name", func(u *Upstream) { u.Name = "noaa_ghcn" }, []string{"name"}},
		{"dot dot name", func(u *Upstream) { u.Name = "noaa..ghcn" }, []string{"name"}},
		{"ip name", func(u *Upstream) { u.Name = "192.168.1.1" }, []string{"name"}},
		{"hyphen end", func(u *Upstream) { u.Name = "noaa-" }, []string{"name"}},
		{"slash name", func(u *Upstream) { u.Name = "a/../b" }, []string{"name"}},
		{"scheme", func(u *Upstream) { u.Endpoint = "https://s3.amazonaws.com" }, []string{"endpoint"}},
		{"path", func(u *Upstream) { u.Endpoint = "s3.amazonaws.com/bucket" }, []string{"endpoint"}},
		{"port zero", func(u *Upstream) { u.Endpoint = "localhost:0" }, []string{"endpoint"}},
		{"port text", func(u *Upstream) { u.Endpoint = "localhost:http" }, []string{"endpoint"}},
		{"empty endpoint", func(u *Upstream) { u.Endpoint = "" }, []string{"endpoint"}},
		{"bad host", func(u *Upstream) { u.Endpoint = "-bad-.example.com" }, []string{"endpoint"}},
		{"empty bucket", func(u *Upstream) { u.Bucket = "" }, []string{"bucket"}},
		{"slash bucket", func(u *Upstream) { u.Bucket = "a/b" }, []string{"bucket"}},
		{"region", func(u *Upstream) { u.Region = "US_EAST" }, []string{"region"}},
		{"half keys", func(u *Upstream) { u.AccessKey = "AK" }, []string{"access_key"}},
		{"bad prefix", func(u *Upstream) { u.Prefix = "\xff" }, []string{"prefix"}},
		{"everything", func(u *Upstream) { *u = Upstream{SecretKey: "x"} }, []string{"name", "endpoint", "bucket", "access_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := good
			tt.change(&u)
			err := u.Validate()
			if len(tt.bad) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if dataport.KindOf(err) != dataport.KindInvalid {
				t.Fatalf("want invalid, got %v", err)
			}
			if got := len(dataport.FieldsOf(err)); got != len(tt.bad) {
				t.Errorf("want %d problems, got %v", len(tt.bad), err)
			}
			for _, f := range tt.bad {
				if !hasField(err, f) {
					t.Errorf("want a problem with %s, got %v", f, err)
				}
			}
		})
	}
}

func TestMD5ETag(t *testing.T) {
	h := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []string{kv[i+1]}
		}
		return m
	}
	for _, tt := range []struct {
		etag string
		hdr  map[string][]string
		want bool
	}{
		{"9e107d9d372bb6826bd81d3542a419d6", nil, true},
		{"9E107D9D372BB6826BD81D3542A419D6", nil, true},
		{"9e107d9d372bb6826bd81d3542a419d6-2", nil, false},
		{"9e107d9d372bb6826bd81d3542a419d", nil, false},
		{"9e107d9d372bb6826bd81d3542a419d6", h("X-Amz-Server-Side-Encryption", "AES256"), true},
		{"9e107d9d372bb6826bd81d3542a419d6", h("X-Amz-Server-Side-Encryption", "aws:kms"), false},
		{"9e107d9d372bb6826bd81d3542a419d6", h("X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256"), false},
	} {
		if got := md5ETag(tt.etag, tt.hdr); got != tt.want {
			t.Errorf("md5ETag(%q, %v) = %v", tt.etag, tt.hdr, got)
		}
	}
}
