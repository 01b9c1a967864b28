package awsodr

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/internal/testenv"
)

// newRegistry makes a registry checkout in a temp dir with the real schema and
// lists and the given dataset files.
func newRegistry(t *testing.T, files map[string]string) string {
	t.Helper()
	src := needRegistry(t)
	dir := t.TempDir()
	for _, name := range []string{"schema.yaml", "tags.yaml", "adx_categories.yaml", "resources.yaml"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "datasets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, "datasets", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// good is a dataset using every field of the schema.
const good = `Name: Example Genomes
Description: |
  The [Example Genomes](https://example.org) project sequences e.g. worms. It has more to say.

  A second paragraph.
Documentation: See the [docs](https://docs.example.org/genomes) for details.
Contact: genomes@example.org
ManagedBy: "[Example Institute](https://example.org/)"
UpdateFrequency: Monthly
Collabs:
  ASDI:
    Tags:
      - sustainability
Tags:
  - genomic
  - aws-pds
  - biology
ADXCategories:
  - Healthcare & Life Sciences Data
License: CC BY 4.0
Citation: Example et al. (2020)
Deprecated: False
DeprecatedNotice:
RegistryEntryAdded: 2019-04-01
Resources:
  - Description: Raw reads
    ARN: arn:aws:s3:::example-genomes/raw/
    Region: us-west-2
    Type: S3 Bucket
    RequesterPays: True
    Explore:
      - '[Browse Bucket](https://example-genomes.s3.amazonaws.com/index.html)'
  - Description: Controlled data
    ARN: arn:aws:s3:us-east-1:123456789012:accesspoint/example-ap/cases
    Region: us-east-1
    Type: S3 Bucket
    AccountRequired: yes
    ControlledAccess: https://example.org/access
  - Description: New object notifications
    ARN: arn:aws:sns:us-west-2:123456789012:example-object_created
    Region: us-west-2
    Type: SNS Topic
  - Description: API
    Host: api.example.org
    Region: us-east-1
    Type: CloudFront Distribution
DataAtWork:
  Tutorials:
    - Title: Reading the reads
      URL: https://example.org/tutorial
      NotebookURL: https://example.org/tutorial.ipynb
      AuthorName: A. Author
      Services:
        - Amazon S3
  Tools & Applications:
  Publications:
    - Title: The paper
      URL: https://doi.org/10.1/x
      AuthorName: B. Author
`

func TestGoodRecord(t *testing.T) {
	dir := newRegistry(t, map[string]string{"example.yaml": good})
	recs, probs := readAll(t, dir)
	if len(probs) != 0 || len(recs) != 1 {
		t.Fatalf("records %d, problems %+v", len(recs), probs)
	}
	r := recs[0]
	want := harvest.Record{
		ID:              "example",
		Ref:             "datasets/example.yaml",
		Title:           dataport.Bilingual{En: "Example Genomes"},
		Summary:         dataport.Bilingual{En: "The Example Genomes project sequences e.g. worms."},
		Description:     dataport.Bilingual{En: "The [Example Genomes](https://example.org) project sequences e.g. worms. It has more to say.\n\nA second paragraph."},
		Publisher:       "Example Institute",
		Contact:         "genomes@example.org",
		Homepage:        "https://docs.example.org/genomes",
		Keywords:        []string{"genomic", "aws-pds", "biology"},
		Categories:      []string{"Healthcare & Life Sciences Data"},
		UpdateFrequency: "Monthly",
		License:         "CC BY 4.0",
		Citation:        "Example et al. (2020)",
		Issued:          time.Date(2019, 4, 1, 0, 0, 0, 0, time.UTC),
		Distributions: []harvest.Distribution{
			{Title: "Raw reads", URL: "s3://example-genomes/raw/", S3: &harvest.S3Resource{
				ARN: "arn:aws:s3:::example-genomes/raw/", Region: "us-west-2", Bucket: "example-genomes",
				Prefix: "raw/", Type: "S3 Bucket", RequesterPays: true}},
			{Title: "Controlled data", URL: "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/example-ap/cases", S3: &harvest.S3Resource{
				ARN: "arn:aws:s3:us-east-1:123456789012:accesspoint/example-ap/cases", Region: "us-east-1",
				Bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/example-ap", Prefix: "cases",
				Type: "S3 Bucket", AccountRequired: true, ControlledAccess: "https://example.org/access"}},
			{Title: "New object notifications", URL: "arn:aws:sns:us-west-2:123456789012:example-object_created", Format: "SNS Topic"},
			{Title: "API", URL: "https://api.example.org", Format: "CloudFront Distribution"},
		},
		Extra: map[string]any{
			"Documentation": "See the [docs](https://docs.example.org/genomes) for details.",
			"ManagedBy":     "[Example Institute](https://example.org/)",
			"Collabs":       map[string]any{"ASDI": map[string]any{"Tags": []any{"sustainability"}}},
			"Resources": []any{
				map[string]any{"Explore": []any{"[Browse Bucket](https://example-genomes.s3.amazonaws.com/index.html)"}},
				map[string]any{},
				map[string]any{"Region": "us-west-2"},
				map[string]any{"Region": "us-east-1"},
			},
			"DataAtWork": map[string]any{
				"Tutorials": []any{map[string]any{"Title": "Reading the reads", "URL": "https://example.org/tutorial",
					"NotebookURL": "https://example.org/tutorial.ipynb", "AuthorName": "A. Author", "Services": []any{"Amazon S3"}}},
				"Publications": []any{map[string]any{"Title": "The paper", "URL": "https://doi.org/10.1/x", "AuthorName": "B. Author"}},
			},
		},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("record\n got %#v\nwant %#v", r, want)
	}
}

func TestBadFiles(t *testing.T) {
	mutate := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("%q not in the good file", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	cases := []struct {
		file, body, field, reason string
	}{
		{"malformed.yaml", "Name: x\nDescription: [unclosed\nTags: a\n", "", "malformed YAML: yaml: line"},
		{"empty.yaml", "# nothing here\n", "", "no YAML content"},
		{"two-docs.yaml", good + "---\nName: again\n", "", "more than one YAML document"},
		{"not-a-map.yaml", "- a\n- b\n", "", "must be a mapping, not a list"},
		{"no-name.yaml", mutate("Name: Example Genomes\n", ""), "Name", "is required but missing"},
		{"null-name.yaml", mutate("Name: Example Genomes", "Name:"), "Name", "is required but has no value"},
		{"short-name.yaml", mutate("Name: Example Genomes", "Name: abc"), "Name", "length 3 is below the minimum of 5"},
		{"no-description.yaml", mutate("Description: |", "Summary: |"), "Description", "is required but missing (line 1); Summary: is not a field of the registry's schema"},
		{"no-resources.yaml", good[:strings.Index(good, "Resources:")], "Resources", "is required but missing"},
		{"bad-arn.yaml", mutate("arn:aws:sns:us-west-2:123456789012:example-object_created", "arn:aws:sns:us-west-2:12345:topic"),
			"Resources[2].ARN", `invalid ARN "arn:aws:sns:us-west-2:12345:topic": account "12345" is not a 12-digit account id`},
		{"bad-bucket.yaml", mutate("arn:aws:s3:::example-genomes/raw/", "arn:aws:s3:::Example_Genomes/raw/"),
			"Resources[0].ARN", `bucket name "Example_Genomes" has 'E'`},
		{"s3-region.yaml", mutate("arn:aws:s3:::example-genomes/raw/", "arn:aws:s3:us-west-2::example-genomes"),
			"Resources[0].ARN", "neither region nor account"},
		{"bad-partition.yaml", mutate("arn:aws:s3:::example-genomes/raw/", "arn:azure:s3:::example-genomes"),
			"Resources[0].ARN", `unknown partition "azure"`},
		{"bad-type.yaml", mutate("Type: SNS Topic", "Type: FTP Server"), "Resources[2].Type",
			`"FTP Server" is not a resource type listed in resources.yaml`},
		{"type-mismatch.yaml", mutate("Type: SNS Topic", "Type: S3 Bucket"), "Resources[2].ARN",
			`is an ARN of service "sns", but Type "S3 Bucket" has "s3" ARNs`},
		{"s3-no-arn.yaml", mutate("    ARN: arn:aws:s3:::example-genomes/raw/\n", ""), "Resources[0].ARN", "needs its ARN"},
		{"tags-string.yaml", mutate("Tags:\n  - genomic\n  - aws-pds\n  - biology\n", "Tags: genomic\n"), "Tags",
			`must be a list, not the string "genomic"`},
		{"unknown-tag.yaml", mutate("  - biology\n", "  - biologie\n"), "Tags[2]", `"biologie" is not a tag listed in tags.yaml`},
		{"asdi-tag.yaml", mutate("      - sustainability", "      - durable"), "Collabs.ASDI.Tags[0]", "not a tag listed"},
		{"adx.yaml", mutate("  - Healthcare & Life Sciences Data\n", "  - Healthcare & Life Sciences Data\n  - Gaming Data\n  - Automotive Data\n"),
			"ADXCategories", "number of items 3 is above the maximum of 2"},
		{"adx-unknown.yaml", mutate("  - Healthcare & Life Sciences Data\n", "  - Sports\n"), "ADXCategories[0]", "not a category"},
		{"bool.yaml", mutate("RequesterPays: True", "RequesterPays: maybe"), "Resources[0].RequesterPays",
			`must be a boolean (true or false), not the string "maybe"`},
		{"number-name.yaml", mutate("Name: Example Genomes", "Name: 1234567"), "Name", "must be a string, not the integer 1234567"},
		{"dup-key.yaml", mutate("License: CC BY 4.0\n", "License: CC BY 4.0\nLicense: MIT\n"), "License", "is given twice"},
		{"region.yaml", mutate("Region: us-west-2\n    Type: S3 Bucket", "Region: oregon\n    Type: S3 Bucket"), "Resources[0].Region",
			`"oregon" does not match the pattern`},
		{"explore.yaml", mutate("'[Browse Bucket](https://example-genomes.s3.amazonaws.com/index.html)'", "https://example-genomes.s3.amazonaws.com"),
			"Resources[0].Explore[0]", "is not a markdown link"},
		{"tutorial.yaml", mutate("      AuthorName: A. Author\n", ""), "DataAtWork.Tutorials[0].AuthorName", "is required but missing"},
		{"tutorial-url.yaml", mutate("URL: https://example.org/tutorial\n", "URL: not a url\n"), "DataAtWork.Tutorials[0].URL", "does not match the pattern"},
		{"controlled.yaml", mutate("ControlledAccess: https://example.org/access", "ControlledAccess:"), "Resources[1].ControlledAccess", "has no value"},
		{"blank-name.yaml", mutate("Name: Example Genomes", `Name: "      "`), "Name", "is blank"},
		{"resource-list.yaml", mutate("Resources:\n", "Resources:\n  - just a string\n"), "Resources[0]", "must be a mapping"},
	}
	files := map[string]string{
		"good.yaml":  good,
		"README.md":  "not a dataset",
		"other.yml":  "Name: [unclosed",
		".swap.yaml": "Name: [unclosed",
	}
	for _, c := range cases {
		files[c.file] = c.body
	}
	dir := newRegistry(t, files)
	if err := os.Mkdir(filepath.Join(dir, "datasets", "folder.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	recs, probs := readAll(t, dir)
	if len(recs) != 1 || recs[0].ID != "good" {
		t.Errorf("records: %+v", recs)
	}
	got := map[string]harvest.Problem{}
	for _, p := range probs {
		got[p.Ref] = p
	}
	if len(probs) != len(cases) {
		t.Errorf("%d problems for %d bad files", len(probs), len(cases))
	}
	for _, c := range cases {
		p, ok := got["datasets/"+c.file]
		if !ok {
			t.Errorf("%s: no problem", c.file)
			continue
		}
		if p.ID != strings.TrimSuffix(c.file, ".yaml") || p.Field != c.field || !strings.Contains(p.Reason, c.reason) {
			t.Errorf("%s: got id %q field %q reason %q\nwant field %q reason containing %q", c.file, p.ID, p.Field, p.Reason, c.field, c.reason)
		}
	}
}

// A reason names every error of the file, with its line.
func TestProblemListsAllErrors(t *testing.T) {
	body := strings.Replace(good, "Name: Example Genomes", "Name: abc", 1)
	body = strings.Replace(body, "Type: SNS Topic", "Type: Pigeon", 1)
	dir := newRegistry(t, map[string]string{"two.yaml": body})
	_, probs := readAll(t, dir)
	if len(probs) != 1 {
		t.Fatalf("problems: %+v", probs)
	}
	want := `Name: length 3 is below the minimum of 5 (line 1); Resources[2].Type: "Pigeon" is not a resource type listed in resources.yaml (CloudFront Distribution, DB Snapshot, EBS Snapshot, S3 Bucket, SNS Topic) (line 42)`
	if probs[0].Reason != want || probs[0].Field != "Name" {
		t.Errorf("got %q [%s]\nwant %q", probs[0].Reason, probs[0].Field, want)
	}
}

func TestMissingFolder(t *testing.T) {
	err := New(filepath.Join(t.TempDir(), "nowhere")).Read(context.Background(),
		func(harvest.Record) error { t.Error("record from nowhere"); return nil },
		func(harvest.Problem) { t.Error("problem from nowhere") })
	if err == nil || dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("err = %v (%v)", err, dataport.KindOf(err))
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err %v does not wrap the cause", err)
	}
}

func TestMissingList(t *testing.T) {
	dir := newRegistry(t, map[string]string{"good.yaml": good})
	if err := os.Remove(filepath.Join(dir, "tags.yaml")); err != nil {
		t.Fatal(err)
	}
	err := New(dir).Read(context.Background(), func(harvest.Record) error { return nil }, func(harvest.Problem) {})
	if dataport.KindOf(err) != dataport.KindUnavailable || !strings.Contains(err.Error(), "registry lists") {
		t.Fatalf("err = %v", err)
	}
}

// A schema asking for checks we do not have fails the run rather than being
// half applied.
func TestUnsupportedSchema(t *testing.T) {
	for name, schema := range map[string]string{
		"keyword": "type: map\nmapping:\n  Name:\n    type: str\n    nullable: False\n",
		"func":    "type: map\nmapping:\n  Name:\n    type: str\n    func: ext_new_check\n",
		"type":    "type: map\nmapping:\n  Name:\n    type: timestamp\n",
		"regex":   "type: map\nmapping:\n  regex;(x.*):\n    type: str\n",
	} {
		dir := newRegistry(t, map[string]string{"good.yaml": good})
		if err := os.WriteFile(filepath.Join(dir, "schema.yaml"), []byte(schema), 0o644); err != nil {
			t.Fatal(err)
		}
		err := New(dir).Read(context.Background(), func(harvest.Record) error { return nil }, func(harvest.Problem) {})
		if err == nil || dataport.KindOf(err) != dataport.KindInternal {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// A schema change is followed: a new optional field is accepted and kept in
// Extra; a tighter limit applies.
func TestSchemaChangeFollowed(t *testing.T) {
	dir := newRegistry(t, map[string]string{"good.yaml": strings.Replace(good, "License:", "Funding: NSF\nLicense:", 1)})
	path := filepath.Join(dir, "schema.yaml")
	schema, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(schema), "  License:\n", "  Funding:\n    type: str\n  License:\n", 1)
	s = strings.Replace(s, "max: 130", "max: 10", 1)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	_, probs := readAll(t, dir)
	if len(probs) != 1 || probs[0].Field != "Name" || !strings.Contains(probs[0].Reason, "above the maximum of 10") {
		t.Fatalf("problems: %+v", probs)
	}
	s = strings.Replace(s, "max: 10", "max: 130", 1)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, probs := readAll(t, dir)
	if len(probs) != 0 || len(recs) != 1 || recs[0].Extra["Funding"] != "NSF" {
		t.Fatalf("records %+v problems %+v", recs, probs)
	}
}

func TestStopsOnYieldErrorAndContext(t *testing.T) {
	dir := newRegistry(t, map[string]string{"a.yaml": good, "b.yaml": good})
	stop := errors.New("stop")
	n := 0
	err := New(dir).Read(context.Background(), func(harvest.Record) error { n++; return stop }, func(harvest.Problem) {})
	if err != stop || n != 1 {
		t.Errorf("err %v after %d records", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = New(dir).Read(ctx, func(harvest.Record) error { t.Error("record after cancel"); return nil }, func(harvest.Problem) {})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v", err)
	}
}

// In a git checkout without RegistryEntry dates, they come from history as the
// registry derives them: first and last commit touching the file.
func TestDatesFromGit(t *testing.T) {
	testenv.Tool(t, "", "git")
	body := strings.Replace(good, "RegistryEntryAdded: 2019-04-01\n", "", 1)
	dir := newRegistry(t, map[string]string{"example.yaml": body, "dated.yaml": good})
	git := func(date string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("", "init", "-q")
	git("2018-05-06T23:30:00+02:00", "add", ".")
	git("2018-05-06T23:30:00+02:00", "commit", "-q", "-m", "add")
	if err := os.WriteFile(filepath.Join(dir, "datasets", "example.yaml"), []byte(strings.Replace(body, "Monthly", "Weekly", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	git("2021-06-02T08:00:00-07:00", "commit", "-q", "-am", "edit")

	recs, probs := readAll(t, dir)
	if len(probs) != 0 || len(recs) != 2 {
		t.Fatalf("records %d problems %+v", len(recs), probs)
	}
	dated, example := recs[0], recs[1]
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	if !example.Issued.Equal(day(2018, 5, 6)) || !example.Modified.Equal(day(2021, 6, 2)) {
		t.Errorf("example: issued %v modified %v", example.Issued, example.Modified)
	}
	// A date in the file wins over history.
	if !dated.Issued.Equal(day(2019, 4, 1)) || !dated.Modified.Equal(day(2018, 5, 6)) {
		t.Errorf("dated: issued %v modified %v", dated.Issued, dated.Modified)
	}
}

// With a services.yaml, tutorial services are checked against it.
func TestServicesList(t *testing.T) {
	dir := newRegistry(t, map[string]string{
		"good.yaml": good,
		"bad.yaml":  strings.Replace(good, "- Amazon S3", "- Amazon Pigeon", 1),
	})
	if err := os.WriteFile(filepath.Join(dir, "services.yaml"), []byte("- Amazon S3\n- Amazon EC2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, probs := readAll(t, dir)
	if len(recs) != 1 || len(probs) != 1 || probs[0].Field != "DataAtWork.Tutorials[0].Services[0]" ||
		!strings.Contains(probs[0].Reason, `"Amazon Pigeon" is not a service listed in services.yaml`) {
		t.Errorf("records %d problems %+v", len(recs), probs)
	}
}

// Anchors and aliases are YAML; a file of them is read like the expanded one,
// and one whose aliases expand past a bound is a problem, not a long stall.
func TestAliases(t *testing.T) {
	aliased := strings.Replace(good, "    Tags:\n      - sustainability\n", "    Tags: &tags\n      - sustainability\n", 1)
	aliased = strings.Replace(aliased, "Tags:\n  - genomic\n  - aws-pds\n  - biology\n", "Tags: *tags\n", 1)

	// 1100 services in each of 1000 tutorials: over a million values to check.
	services := "Services: &s [&x Amazon S3" + strings.Repeat(", *x", 1099) + "]"
	tutorial := "- &m {Title: T, URL: https://example.org/t, AuthorName: A, " + services + "}"
	bomb := strings.Replace(good, "  Tools & Applications:\n", "  Tools & Applications:\n"+
		"    "+tutorial+"\n"+strings.Repeat("    - *m\n", 999), 1)
	bomb = strings.Replace(bomb, "  Tools & Applications:", "  Tutorials:", 1)
	bomb = strings.Replace(bomb, "  Tutorials:\n    - Title: Reading", "  Tools & Applications:\n    - Title: Reading", 1)

	dir := newRegistry(t, map[string]string{"aliased.yaml": aliased, "bomb.yaml": bomb})
	start := time.Now()
	recs, probs := readAll(t, dir)
	if len(recs) != 1 || !reflect.DeepEqual(recs[0].Keywords, []string{"sustainability"}) {
		t.Errorf("records %+v", recs)
	}
	if len(probs) != 1 || probs[0].ID != "bomb" || !strings.Contains(probs[0].Reason, "too deeply aliased") {
		t.Errorf("problems %+v", probs)
	}
	// The bound is on work, not time: the problem above proves the expansion
	// stopped; how long it took is for the log, never a pass or fail.
	t.Logf("read in %v", time.Since(start))
}
