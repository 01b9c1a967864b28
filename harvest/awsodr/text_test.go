package awsodr

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseARN(t *testing.T) {
	valid := map[string]ARN{
		"arn:aws:s3:::noaa-ufs-gefsv13replay-pds":                            {"aws", "s3", "", "", "noaa-ufs-gefsv13replay-pds"},
		"arn:aws:s3:::amp-ad-diverse-cohorts.opendata.sagebase.org":          {"aws", "s3", "", "", "amp-ad-diverse-cohorts.opendata.sagebase.org"},
		"arn:aws:s3:::assetdata-igp/Coal Plants/":                            {"aws", "s3", "", "", "assetdata-igp/Coal Plants/"},
		"arn:aws-iso:s3:::some-bucket":                                       {"aws-iso", "s3", "", "", "some-bucket"},
		"arn:aws-cn:s3:::some-bucket":                                        {"aws-cn", "s3", "", "", "some-bucket"},
		"arn:aws-us-gov:sns:us-gov-west-1:123456789012:topic":                {"aws-us-gov", "sns", "us-gov-west-1", "123456789012", "topic"},
		"arn:aws:sns:us-east-1:123456789012:noaa-gfs-bdp-pds-data-available": {"aws", "sns", "us-east-1", "123456789012", "noaa-gfs-bdp-pds-data-available"},
		"arn:aws:s3:us-east-1:184438910517:accesspoint/bdsp-open-access-point": {"aws", "s3", "us-east-1", "184438910517",
			"accesspoint/bdsp-open-access-point"},
		"arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE": {"aws", "cloudfront", "", "123456789012", "distribution/EDFDVBD6EXAMPLE"},
	}
	for s, want := range valid {
		a, err := ParseARN(s)
		if err != nil || a != want || a.String() != s {
			t.Errorf("ParseARN(%q) = %+v, %v", s, a, err)
		}
	}
	invalid := map[string]string{
		"arn:aws:s3:::-noaa-ufs-gefsv13replay-pds":            "must begin and end with a letter or digit",
		"arn:aws:s3::://deafrica-sentinel-5p-co/Sentinel-5p/": "no bucket name",
		"arn:aws:s3:::My_Bucket":                              `has 'M'`,
		"arn:aws:s3:::bucket-":                                "must begin and end",
		"arn:aws:s3:::ab":                                     "2 characters long",
		"arn:aws:s3:::" + strings.Repeat("a", 64):             "64 characters long",
		"arn:aws:s3:::a..b":                                   "two adjacent periods",
		"arn:aws:s3:::192.168.1.1":                            "IP address",
		"arn:aws:s3:::xn--bucket":                             `reserved prefix "xn--"`,
		"arn:aws:s3:::my-bucket-s3alias":                      `reserved suffix "-s3alias"`,
		"arn:aws:s3:us-east-1:123456789012:bucket/x":          "must name an access point",
		"arn:aws:s3:us-east-1::accesspoint/x":                 "neither region nor account",
		"arn:aws:s3:us-east-1:123456789012:accesspoint/X_Y":   `access point name "X_Y"`,
		"arn:aws:sns:::topic":                                 "needs a region",
		"arn:aws:sns:us-east-1::topic":                        "needs a 12-digit account",
		"arn:aws:sns:useast1:123456789012:topic":              `region "useast1"`,
		"arn:aws:sns:us-east-1:123456789012:":                 "no resource",
		"arn:aws:s3:::":                                       "no resource",
		"arn:aws:S3:::bucket":                                 `service "S3"`,
		"arn:aws:s3:::bucket/a\nb":                            "control character",
		"arn:aws:s3":                                          "not of the form",
		"urn:aws:s3:::bucket":                                 "not of the form",
		"s3://bucket":                                         "not of the form",
		"":                                                    "not of the form",
	}
	for s, want := range invalid {
		if _, err := ParseARN(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseARN(%q) = %v, want an error with %q", s, err, want)
		}
	}
}

func TestS3Location(t *testing.T) {
	for s, want := range map[string][2]string{
		"arn:aws:s3:::bucket":                 {"bucket", ""},
		"arn:aws:s3:::bucket/":                {"bucket", ""},
		"arn:aws:s3:::bucket/a/b/":            {"bucket", "a/b/"},
		"arn:aws:s3:::my.bucket/Coal Plants/": {"my.bucket", "Coal Plants/"},
		"arn:aws:s3:us-east-1:184438910517:accesspoint/bdsp-eeg-access-point/EEG": {
			"arn:aws:s3:us-east-1:184438910517:accesspoint/bdsp-eeg-access-point", "EEG"},
		"arn:aws:s3:us-east-1:184438910517:accesspoint/bdsp-open-access-point/": {
			"arn:aws:s3:us-east-1:184438910517:accesspoint/bdsp-open-access-point", ""},
	} {
		a, err := ParseARN(s)
		if err != nil {
			t.Fatal(err)
		}
		b, p, err := a.S3Location()
		if err != nil || b != want[0] || p != want[1] {
			t.Errorf("%s: %q %q %v", s, b, p, err)
		}
	}
}

func TestSummarize(t *testing.T) {
	for in, want := range map[string]string{
		"One. Two.": "One.",
		"The U.S. census counts e.g. people. More.":    "The U.S. census counts e.g. people.",
		"Data by J. Smith et al. about fish. More.":    "Data by J. Smith et al. about fish.",
		"Version 3.5 is current. Older ones are gone.": "Version 3.5 is current.",
		"no end": "no end",
		"[SILO](https://x.org/silo) is a database\nof climate data. It is daily.": "SILO is a database of climate data.",
		"#### Update\nBuckets moved. Please update.\n\nThe dataset.":              "Buckets moved.",
		"<br />\n<p>The <b>data</b> &amp; more.</p>":                              "The data & more.",
		"Earth Orbiter\n<br>\n\n#### Product":                                     "Earth Orbiter",
		"First paragraph without end\n\nSecond. Paragraph.":                       "First paragraph without end",
		"**Bold** claim! Then.":                                                   "Bold claim!",
		"Is it? Yes.":                                                             "Is it?",
		"Ends with a period.":                                                     "Ends with a period.",
		"Lower. case next stays. Upper Ends.":                                     "Lower. case next stays.",
	} {
		if got := summarize(in); got != want {
			t.Errorf("summarize(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("word ", 300)
	got := summarize(long)
	if n := utf8.RuneCountInString(got); n > maxSummary || !strings.HasSuffix(got, "word…") {
		t.Errorf("long summary: %d runes, %q", n, got[len(got)-20:])
	}
	huge := strings.Repeat("é", 10000) // a paragraph longer than the window, multibyte
	if got := summarize(huge); !utf8.ValidString(got) || utf8.RuneCountInString(got) != maxSummary {
		t.Errorf("huge summary: %d runes, valid %v", utf8.RuneCountInString(got), utf8.ValidString(got))
	}
}

func TestPublisher(t *testing.T) {
	for in, want := range map[string]string{
		"[NOAA](http://www.noaa.gov/)":       "NOAA",
		"\"[NOAA](http://www.noaa.gov/)\"\n": "NOAA",
		"NASA":                               "NASA",
		"NASA/IPAC Infrared Science Archive ([IRSA](https://irsa.ipac.caltech.edu)) at Caltech": "NASA/IPAC Infrared Science Archive (IRSA) at Caltech",
		"U.S. Environmental Protection Agency (https://www.epa.gov)":                            "U.S. Environmental Protection Agency",
		"[USRA](https://a.org/) and [NASA Black Marble](https://b.gov/)":                        "USRA and NASA Black Marble",
		"(Human Pangenome Reference Consortium)[https://humanpangenome.org/]":                   "Human Pangenome Reference Consortium",
		"[Radiological Society of North America (https://www.rsna.org/)":                        "Radiological Society of North America",
		"Imaging Data Commons (IDC)(https://imaging.datacommons.cancer.gov) team":               "Imaging Data Commons (IDC) team",
		"Centre (CCRS) https://a.ca/x https://a.ca/y":                                           "Centre (CCRS)",
		"http://www.pyfr.org":                 "http://www.pyfr.org",
		"Amar Kulkarni (ark8su@virginia.edu)": "Amar Kulkarni (ark8su@virginia.edu)",
	} {
		if got := publisher(in); got != want {
			t.Errorf("publisher(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFirstURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.org/docs":                                                                      "https://example.org/docs",
		"https://impact.earthdata.nasa.gov/casei/campaign/SAFARI 2000/":                                 "https://impact.earthdata.nasa.gov/casei/campaign/SAFARI%202000/",
		"More documentation can be found [here](https://doi.org/10.1/x)":                                "https://doi.org/10.1/x",
		"https://a.org/x, https://b.org/y":                                                              "https://a.org/x",
		"For information, please consult https://cris.climate.gov/pages/about-the-data.\n":              "https://cris.climate.gov/pages/about-the-data",
		`Documentation can be found at <a href="https://github.com/gbhl/bhl-open-data">our GitHub</a>.`: "https://github.com/gbhl/bhl-open-data",
		"TBD":                            "",
		"www.cosmiqworks.org/RarePlanes": "",
	} {
		if got := firstURL(in); got != want {
			t.Errorf("firstURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPythonPatterns(t *testing.T) {
	// re.match: anchored at the start only; "$" also before a final newline.
	re, err := compilePythonMatch(`^.{2}-.+-\d$`)
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"us-east-1": true, "us-east-1\n": true, "us-east-1x": false, "x us-east-1": false, "us-east-1\n\n": false} {
		if re.MatchString(s) != want {
			t.Errorf("%q: %v", s, !want)
		}
	}
	prefix, err := compilePythonMatch(`ab`)
	if err != nil {
		t.Fatal(err)
	}
	if !prefix.MatchString("abc") || prefix.MatchString("cab") {
		t.Error("re.match semantics")
	}
	if got := pythonDollar(`a\$[$]$`); got != `a\$[$](?:\n?\z)` {
		t.Errorf("pythonDollar: %s", got)
	}
	if !exploreRE.MatchString("[Browse Dataset](https://data.openei.org/s3_viewer?bucket=gadal&prefix=gadal_ieee123%2F)") ||
		!exploreRE.MatchString("[Données](https://exemple.fr/données)") ||
		exploreRE.MatchString("https://no.link/") {
		t.Error("explore pattern")
	}
}
