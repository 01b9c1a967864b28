package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/demo"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/financing"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/connectors"
	"github.com/dataport/dataport/harvest/dcat"
	"github.com/dataport/dataport/harvest/dsppeer"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/s3api"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/web"
	"github.com/prometheus/client_golang/prometheus"
)

// config is what every command that opens the exchange takes.
type config struct {
	addr       string
	dataDir    string
	db         string
	blobs      string
	webhookKey string
	// The S3-compatible endpoint and the mirror behind it.
	s3Addr         string
	s3Region       string
	mirrorDir      string
	mirrorMaxBytes int64
	fees           trade.Options
	// webhooksPrivate lets webhooks be plain http and on private networks.
	webhooksPrivate bool
	logFormat       string
	logLevel        string
	logKey          string
	logOrigin       string
	witnesses       []ledger.Witness
	badWitness      error
	operator        registry.OperatorIdentity
}

// flags registers the common flags on fs, with environment fallbacks.
func (c *config) flags(fs *flag.FlagSet, getenv func(string) string, defaultDataDir string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.addr, "addr", env("DATAPORT_ADDR", "127.0.0.1:8080"), "listen address (DATAPORT_ADDR)")
	fs.StringVar(&c.dataDir, "data", env("DATAPORT_DATA_DIR", defaultDataDir), "data folder (DATAPORT_DATA_DIR)")
	fs.StringVar(&c.blobs, "blobs", getenv("DATAPORT_BLOBS"), "blob store for attachments, contracts and data: a folder, or an S3 bucket as http(s)://ACCESS:SECRET@host:port/bucket[/prefix] (DATAPORT_BLOBS; default: blobs in the data folder)")
	fs.StringVar(&c.webhookKey, "webhook-key", getenv("DATAPORT_WEBHOOK_KEY_FILE"), "file holding the secret that webhook signing keys, download links and S3 access keys derive from (DATAPORT_WEBHOOK_KEY_FILE; default: webhook.key in the data folder, created at first start; every replica needs the same)")
	fs.BoolVar(&c.webhooksPrivate, "webhooks-allow-private", getenv("DATAPORT_WEBHOOKS_ALLOW_PRIVATE") == "true", "let webhooks be plain http:// and inside private networks: for local testing only (DATAPORT_WEBHOOKS_ALLOW_PRIVATE=true)")
	fs.Int64Var(&c.fees.FeeBasisPoints, "fee-bps", envInt(getenv, "DATAPORT_FEE_BPS", 100), "the exchange's fee on each deal, in basis points (DATAPORT_FEE_BPS)")
	fs.Int64Var(&c.fees.CommissionBasisPoints, "agent-commission-bps", envInt(getenv, "DATAPORT_AGENT_COMMISSION_BPS", 500), "an agent's commission on a foreign supplier's deals, in basis points (DATAPORT_AGENT_COMMISSION_BPS)")
	fs.DurationVar(&c.fees.AcceptanceWindow, "acceptance-window", envDuration(getenv, "DATAPORT_ACCEPTANCE_WINDOW", 7*24*time.Hour), "how long after finalisation a buyer has to confirm delivery before the escrow is released anyway (DATAPORT_ACCEPTANCE_WINDOW)")
	fs.StringVar(&c.s3Addr, "s3-addr", getenv("DATAPORT_S3_ADDR"), "listen address of the S3-compatible read endpoint: mirrored open data and buyers' deals (DATAPORT_S3_ADDR; off when empty)")
	fs.StringVar(&c.s3Region, "s3-region", env("DATAPORT_S3_REGION", "us-east-1"), "the region the S3 endpoint signs in (DATAPORT_S3_REGION)")
	fs.StringVar(&c.mirrorDir, "mirror-dir", getenv("DATAPORT_MIRROR_DIR"), "the mirror's cache folder (DATAPORT_MIRROR_DIR; default: mirror in the data folder)")
	fs.Int64Var(&c.mirrorMaxBytes, "mirror-max-bytes", envInt(getenv, "DATAPORT_MIRROR_MAX_BYTES", 100<<30), "the mirror cache's size cap in bytes; the least recently used objects are evicted beyond it (DATAPORT_MIRROR_MAX_BYTES)")
	fs.StringVar(&c.db, "db", getenv("DATAPORT_DB"), "database: sqlite:PATH or postgres://… (DATAPORT_DB; default: SQLite in the data folder)")
	fs.StringVar(&c.logFormat, "log-format", env("DATAPORT_LOG_FORMAT", "text"), "log format: text or json (DATAPORT_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", env("DATAPORT_LOG_LEVEL", "info"), "log level: debug, info, warn, error (DATAPORT_LOG_LEVEL)")
	fs.StringVar(&c.logKey, "log-key", getenv("DATAPORT_LOG_KEY_FILE"), "file holding the log's signer key (DATAPORT_LOG_KEY_FILE; default: log.key in the data folder, created at first start)")
	fs.StringVar(&c.logOrigin, "log-origin", env("DATAPORT_LOG_ORIGIN", "localhost/dataport"), "the log's origin, used when the log key is created (DATAPORT_LOG_ORIGIN)")
	for _, v := range strings.Fields(strings.ReplaceAll(getenv("DATAPORT_WITNESSES"), ",", " ")) {
		if w, err := ledger.ParseWitnessKey(v); err == nil {
			c.witnesses = append(c.witnesses, w)
		} else {
			c.badWitness = err
		}
	}
	fs.Func("witness", "a witness's cosignature/v1 verifier key whose cosignatures the log accepts and serves (repeatable; DATAPORT_WITNESSES)", func(v string) error {
		w, err := ledger.ParseWitnessKey(v)
		c.witnesses = append(c.witnesses, w)
		return err
	})
	fs.StringVar(&c.operator.LegalName.Zh, "operator-name-zh", env("DATAPORT_OPERATOR_NAME_ZH", "数据交易所"), "the operator's Chinese legal name, used at first start")
	fs.StringVar(&c.operator.LegalName.En, "operator-name-en", env("DATAPORT_OPERATOR_NAME_EN", "Data Exchange"), "the operator's English legal name, used at first start")
	fs.StringVar(&c.operator.USCC, "operator-uscc", getenv("DATAPORT_OPERATOR_USCC"), "the operator's unified social credit code, used at first start")
}

func envDuration(getenv func(string) string, name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(getenv(name)); err == nil {
		return v
	}
	return def
}

func envInt(getenv func(string) string, name string, def int64) int64 {
	if v, err := strconv.ParseInt(getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

func (c *config) dsn() string {
	if c.db != "" {
		return c.db
	}
	return "sqlite:" + filepath.Join(c.dataDir, "dataport.db")
}

// openBlobs opens the blob store -blobs names: an S3 bucket or a folder.
func (c *config) openBlobs(ctx context.Context) (blob.Store, error) {
	if strings.HasPrefix(c.blobs, "http://") || strings.HasPrefix(c.blobs, "https://") {
		cfg, err := blob.ParseS3URL(c.blobs)
		if err != nil {
			return nil, err
		}
		return blob.OpenS3(ctx, cfg)
	}
	return blob.OpenFS(c.blobDir())
}

// derive makes a key for one purpose from the exchange's secret (HMAC-SHA256 as a
// key derivation function), so one secret file serves webhooks, download links and
// S3 access keys without any two sharing a key.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("dataport " + purpose))
	return m.Sum(nil)
}

func (c *config) blobDir() string {
	if c.blobs != "" {
		return c.blobs
	}
	return filepath.Join(c.dataDir, "blobs")
}

func (c *config) logKeyFile() string {
	if c.logKey != "" {
		return c.logKey
	}
	return filepath.Join(c.dataDir, "log.key")
}

// loadLogKey reads the log's signer key, creating it (and printing nothing secret)
// when the file does not exist yet.
func (c *config) loadLogKey(log *slog.Logger) (string, error) {
	path := c.logKeyFile()
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	skey, _, err := ledger.GenerateKey(c.logOrigin)
	if err != nil {
		return "", err
	}
	if err := writeKeyFile(path, skey); err != nil {
		return "", err
	}
	log.Info("created the log key", "file", path, "origin", c.logOrigin)
	return skey, nil
}

// loadWebhookSecret reads the webhook secret (hex), creating it at first start.
func (c *config) loadWebhookSecret(log *slog.Logger) ([]byte, error) {
	path := c.webhookKey
	if path == "" {
		path = filepath.Join(c.dataDir, "webhook.key")
	}
	b, err := os.ReadFile(path)
	if err == nil {
		secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(secret) != notify.SecretSize {
			return nil, fmt.Errorf("%s: want %d bytes in hex", path, notify.SecretSize)
		}
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	secret := make([]byte, notify.SecretSize)
	rand.Read(secret)
	if err := writeKeyFile(path, hex.EncodeToString(secret)); err != nil {
		return nil, err
	}
	log.Info("created the webhook secret", "file", path)
	return secret, nil
}

// writeKeyFile writes a secret key readable by its owner only, and never over an
// existing one.
func writeKeyFile(path, key string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", c.logFormat)
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// serve runs the exchange until ctx is cancelled (SIGINT, SIGTERM), then shuts down
// gracefully. With demo set it seeds the demo world first and prints its keys.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, withDemo bool) error {
	name, defaultDir := "serve", "dataport-data"
	if withDemo {
		name, defaultDir = "demo", "dataport-demo"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	c.flags(fs, getenv, defaultDir)
	dspAutoStart := fs.Bool("dsp-auto-start", getenv("DATAPORT_DSP_AUTO_START") != "false", "start a DSP pull transfer as soon as its request is acknowledged, as a connector's data plane does; false: the supplier starts each through the REST API (DATAPORT_DSP_AUTO_START)")
	dspAutoComplete := fs.Bool("dsp-auto-complete", getenv("DATAPORT_DSP_AUTO_COMPLETE") != "false", "as a DSP consumer, complete a pull transfer once all of its data is pulled and verified; false: the buyer completes each through the REST API (DATAPORT_DSP_AUTO_COMPLETE)")
	var limitsEnv error
	limits := limitFlags(fs, getenv, &limitsEnv)
	if err := parse(fs, args); err != nil {
		return err
	}
	if limitsEnv != nil && !flagSet(fs, "trusted-proxies") {
		return fmt.Errorf("DATAPORT_TRUSTED_PROXIES: %w", limitsEnv)
	}
	// Zero means a limit's default; a negative number is a mistake, not "off"
	// (-rate-limits-off is).
	for name, v := range map[string]float64{"rate-per-key": limits.PerKey, "rate-burst": float64(limits.Burst), "rate-per-ip": limits.PerIP,
		"rate-ip-burst": float64(limits.IPBurst), "rate-operator-factor": limits.OperatorFactor} {
		if v < 0 {
			return fmt.Errorf("-%s %v: want a positive number, or 0 for the default", name, v)
		}
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	if c.badWitness != nil {
		return fmt.Errorf("DATAPORT_WITNESSES: %w", c.badWitness)
	}
	if withDemo && c.operator.USCC == "" {
		c.operator = demo.Operator()
	}

	db, err := store.Open(ctx, c.dsn(), store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	reg := registry.New(db)
	skey, err := c.loadLogKey(log)
	if err != nil {
		return fmt.Errorf("log key: %w", err)
	}
	ledgerLog, err := ledger.OpenLog(ctx, db, skey, log)
	if err != nil {
		return err
	}
	ledgerLog.SetWitnesses(c.witnesses)
	// Every replica follows the log; the one that leads ledger.IntegratorRole
	// integrates it (a quarter second: filings made on other replicas wait at most
	// that long for their checkpoint).
	integrating, stopIntegrating := context.WithCancel(context.WithoutCancel(ctx))
	integrated := make(chan struct{})
	go func() {
		defer close(integrated)
		ledgerLog.Run(integrating, 250*time.Millisecond)
	}()
	defer func() { stopIntegrating(); <-integrated }()
	// The background jobs run on one replica at a time (jobsRole): each is added
	// here and started together once the server is built.
	var jobs []func(context.Context)

	// First start on an empty registry: create the operator and show its key once.
	op, token, created, err := reg.Bootstrap(ctx, c.operator)
	if err != nil {
		return fmt.Errorf("create the exchange operator: %w", err)
	}
	if created {
		log.Info("created the exchange operator", "participant", op.ID)
		if !withDemo {
			fmt.Fprintf(stdout, "Exchange operator %s created. Its API key, shown this once:\n\n  %s\n\n", op.ID, token)
			if op.USCC == "" {
				fmt.Fprintln(stdout, "Set the operator's unified social credit code with PATCH /api/v1/participants/"+op.ID)
			}
		}
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()

	blobs, err := c.openBlobs(ctx)
	if err != nil {
		ln.Close()
		return fmt.Errorf("open the blob store: %w", err)
	}
	engine, err := compliance.New(ctx, db, reg, ledgerLog)
	if err != nil {
		ln.Close()
		return fmt.Errorf("compliance engine: %w", err)
	}
	cat := catalog.New(db, reg, blobs, engine)
	reg.OnSuspension(cat.SuspensionCascade)
	secret, err := c.loadWebhookSecret(log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("webhook secret: %w", err)
	}
	notifier, err := notify.New(db, secret, notify.Options{AllowPrivate: c.webhooksPrivate || withDemo})
	if err != nil {
		ln.Close()
		return err
	}
	deals := trade.New(db, reg, engine, ledgerLog, blobs, c.fees)
	mirrorDir := c.mirrorDir
	if mirrorDir == "" {
		mirrorDir = filepath.Join(c.dataDir, "mirror")
	}
	cache, err := mirror.OpenCache(mirrorDir, mirror.Options{MaxBytes: c.mirrorMaxBytes})
	if err != nil {
		ln.Close()
		return fmt.Errorf("open the mirror cache: %w", err)
	}
	defer cache.Close()
	mirrors, err := mirror.New(db, cache, derive(secret, "mirror credentials"))
	if err != nil {
		ln.Close()
		return err
	}
	s3Keys := reg.S3Keys(derive(secret, "s3 access keys"))
	// DSP peers (dsp.Peers): the tokens other connectors issued to the exchange are
	// sealed under a key of their own, and a peer's catalog is a DCAT source located at
	// dsp:<participant id> (harvest/dsppeer), asked with the guarded outbound client.
	dspSealKey := derive(secret, "dsp sealing")
	dspPeers, err := dsp.NewPeers(db, dspSealKey)
	if err != nil {
		ln.Close()
		return err
	}
	harvestConnectors := connectors.Standard()
	harvestConnectors[harvest.KindDCAT] = dsppeer.DCAT(dspPeers, &dsp.Client{HTTP: notifier.OutboundClient()}, dcat.Options{}, harvestConnectors[harvest.KindDCAT])
	harvests := harvest.New(db, reg, cat, mirrors, harvestConnectors)
	jobs = append(jobs, func(ctx context.Context) { harvests.Schedule(ctx, time.Minute) })
	deliveries, err := delivery.New(db, reg, blobs, deals, delivery.Options{StagingDir: filepath.Join(c.dataDir, "uploads"), LinkKey: derive(secret, "download links")})
	if err != nil {
		ln.Close()
		return err
	}
	jobs = append(jobs,
		func(ctx context.Context) { deals.Run(ctx, time.Minute) },    // escrow release
		func(ctx context.Context) { notifier.Run(ctx, time.Second) }, // webhook deliveries
	)

	// A batch's checked rows wait in the spool while the rest of it arrives (once
	// they outgrow memory): beside the data, not in /tmp, which may be small.
	financeSpool := filepath.Join(c.dataDir, "spool", "finance")
	if err := os.MkdirAll(financeSpool, 0o700); err != nil {
		ln.Close()
		return fmt.Errorf("finance spool: %w", err)
	}
	finances := finance.New(db, reg, finance.Options{SpoolDir: financeSpool})
	// Lending (融资): consents, banks' subscriptions, offers, instant decisions,
	// loans. Its part of a suspension withdraws the participant's open offers in
	// the suspension's own transaction; the sweep marks unpaid loans overdue.
	// An ad-spend loan (投流貸) is capped by the live limit finance keeps.
	lendings := lending.New(db, reg, lending.Options{LiveLimits: finances})
	reg.OnSuspension(lendings.SuspensionCascade)
	jobs = append(jobs, func(ctx context.Context) { sweepLoans(ctx, lendings, db.Clock(), log, time.Minute) })
	credits, err := credit.New(db, reg, finances, nil, credit.Options{}) // nil: the committed model
	if err != nil {
		ln.Close()
		return fmt.Errorf("credit: %w", err)
	}
	// Merchants list their own data as products of the catalog, from what finance attested.
	credits.ListThrough(cat, finances)
	financing.Wire(finances, credits, lendings)
	// Live limits follow the clock as well as the stream: windows slide, and a
	// seller whose paid orders stopped sees its limit fall on the next read; the
	// sweep files those changes every second.
	jobs = append(jobs, func(ctx context.Context) { sweepLiveLimits(ctx, finances, log, time.Second) })
	if withDemo {
		fin := demo.FinanceServices{Finance: finances, Credit: credits, Lending: lendings, LivePolicy: demoLivePolicy(finances)}
		if err := printDemo(ctx, reg, engine, cat, fin, ledgerLog, db.Clock(), url, stdout); err != nil {
			ln.Close()
			return err
		}
	}

	srv := &http.Server{
		Handler: api.NewServer(api.Deps{
			DB: db, Registry: reg, Catalog: cat, Notify: notifier, Compliance: engine,
			Trade: deals, Delivery: deliveries, Mirror: mirrors, S3Keys: s3Keys, Harvest: harvests, Filings: ledger.NewReader(db), Log: ledgerLog, Logger: log,
			Blobs: blobs, DSPAutoComplete: *dspAutoComplete, // DSP transfers as consumer: where pulled data goes
			Finance: finances,
			Credit:  credits,
			Lending: lendings,
			DSPTransfer: api.DSPTransferOptions{
				AutoStart: *dspAutoStart, Backoff: dspSendBackoff},
			Metrics: prometheus.NewRegistry(), Version: version(),
			Limits: *limits,

			// The DSP sealing key: peers' tokens (api/dsp_consumer.go).
			DSPSealKey: dspSealKey,

			// The web console at / (package web), in front of the API.
			Console: web.New(web.Deps{DB: db, Registry: reg, Catalog: cat, Compliance: engine, Logger: log,
				Finance: finances, Credit: credits, Lending: lendings,
				Trade: deals, Delivery: deliveries, Harvest: harvests, Mirror: mirrors,
				Filings: ledger.NewReader(db), Log: ledgerLog}),
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// DSP transfers as consumer: the pulls the end of the last process interrupted
	// resume now; at shutdown the pulls under way stop, to resume at the next start.
	consumerTransfers := srv.Handler.(*api.Server).DSPConsumerTransfers()
	if err := consumerTransfers.Resume(ctx); err != nil {
		log.Error("dsp consumer transfers: resuming the pulls", "error", err)
	}
	defer consumerTransfers.Close()
	// The DSP messages a consumer could not be sent when dataport moved (its callback
	// down, or the process stopped in between) are sent once it can be reached, for
	// negotiations and transfers alike.
	server := srv.Handler.(*api.Server)
	jobs = append(jobs, func(ctx context.Context) {
		dsp.SendOwedEvery(ctx, dspSendInterval, log, server.DSPNegotiationService(), server.DSPTransferService())
	})
	working, stopWorking := context.WithCancel(context.WithoutCancel(ctx))
	worked := make(chan struct{})
	go func() {
		defer close(worked)
		db.Lead(working, jobsRole, func(ctx context.Context) {
			log.Info("running the background jobs", "role", jobsRole)
			var wg sync.WaitGroup
			for _, job := range jobs {
				wg.Go(func() { job(ctx) })
			}
			wg.Wait()
			log.Info("stopped the background jobs", "role", jobsRole)
		})
	}()
	defer func() { stopWorking(); <-worked }()
	if c.s3Addr != "" {
		s3ln, err := net.Listen("tcp", c.s3Addr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("-s3-addr: %w", err)
		}
		s3srv := &http.Server{
			Handler:           s3api.NewHandler(buckets{mirror: mirrors, deals: deliveries.S3Backend(s3Keys)}, s3Keys, s3api.Options{Region: c.s3Region, Logger: log}),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go s3srv.Serve(s3ln)
		defer s3srv.Close()
		log.Info("serving S3", "s3_url", "http://"+s3ln.Addr().String(), "region", c.s3Region)
	}
	log.Info("serving", "url", url, "db", db.Engine(), "version", version(), "log_origin", ledgerLog.Origin(), "log_vkey", ledgerLog.VerifierKey())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	// The denied requests counted since the last write (api/audit.go).
	if err := server.FlushDenials(shutdown); err != nil {
		log.Warn("recording the last denied requests", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// jobsRole is the role (store.DB.Lead) of the one replica that runs the
// background jobs — harvest schedules, escrow release, webhook deliveries, loan
// and live-limit sweeps, DSP messages owed — so each runs once, not once per
// replica; another replica takes them over when that one dies.
const jobsRole = "background-jobs"

// dspSendInterval is how often the DSP messages owed are looked for; dspSendBackoff
// how long a consumer that could not be reached is left before it is tried again
// (doubled with each failure, up to an hour).
const (
	dspSendInterval = 15 * time.Second
	dspSendBackoff  = 15 * time.Second
)

// printDemo seeds the demo world and prints where it is and a fresh key per role.
func printDemo(ctx context.Context, reg *registry.Service, rules *compliance.Service, cat *catalog.Service, fin demo.FinanceServices, ledgerLog *ledger.Log, clock dataport.Clock, url string, w io.Writer) error {
	world, err := demo.Seed(ctx, reg, clock.Now())
	if err != nil {
		return fmt.Errorf("seed the demo world: %w", err)
	}
	if _, err := demo.SeedCatalog(ctx, reg, rules, cat, world, clock.Now()); err != nil {
		return fmt.Errorf("seed the demo catalogue: %w", err)
	}
	credit, err := demo.SeedFinance(ctx, fin, world, clock.Now())
	if err != nil {
		return fmt.Errorf("seed the demo financing: %w", err)
	}
	fmt.Fprintf(w, "dataport demo is running.\n\n  URL:       %s/\n  API docs:  %s/docs\n  OpenAPI:   %s/openapi.json\n  Health:    %s/healthz\n\n", url, url, url, url)
	fmt.Fprintln(w, "Demo API keys, one per role (new ones at every start; use as  Authorization: Bearer <key>):")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, h := range world.KeyHolders() {
		_, token, err := reg.IssueKey(ctx, h.Participant.ID, registry.NewAPIKey{Name: "demo " + string(h.Role), Roles: []dataport.Role{h.Role}})
		if err != nil {
			return err
		}
		name := h.Participant.LegalName.En
		if name == "" {
			name = h.Participant.LegalName.Zh
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", h.Role, name, token)
	}
	tw.Flush()
	// The demo world is filed: wait until the log's checkpoint covers it.
	if err := waitForLog(ctx, ledgerLog); err != nil {
		return err
	}
	cp, _ := ledgerLog.Latest()
	if len(credit.Decisions) > 0 {
		fmt.Fprintln(w, "\nCredit decisions on the demo merchants' attested order data (offers went to the banks they consented to):")
		fmt.Fprintln(w)
		for _, m := range world.Members {
			if d, ok := credit.Decisions[m.ID]; ok {
				fmt.Fprintf(tw, "  %s\tgrade %s\tscore %d\tline %s %s\n", m.LegalName.En, d.Grade, d.Score, d.Line.Currency, minorUnits(d.Line.Amount))
			}
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nThe log (C2SP tlog-tiles) at %s/log/ holds %d filings. Its verifier key:\n\n  %s\n", url, cp.Size, ledgerLog.VerifierKey())
	fmt.Fprintf(w, "\nThe web console: %s/ (sign in with any key above; 中文 / English in its header)\n", url)
	fmt.Fprintf(w, "\nTry:  curl -H 'Authorization: Bearer <operator key>' %s/api/v1/participants\n", url)
	fmt.Fprintf(w, "      go run ./cmd/dataport verify -key '%s' -entries %s/log\n\n", ledgerLog.VerifierKey(), url)
	return nil
}

// version is the module version when built from a tagged module, or the VCS revision.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

// oneLine keeps an error message on one line for the terminal.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// waitForLog waits until every filing made so far is covered by a signed checkpoint.
func waitForLog(ctx context.Context, ledgerLog *ledger.Log) error {
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := ledgerLog.WaitCovered(wait, ledgerLog.Filed(wait))
	return err
}

// limitFlags registers the abuse limits' flags (api.Limits; zero is each default).
func limitFlags(fs *flag.FlagSet, getenv func(string) string, envErr *error) *api.Limits {
	l := &api.Limits{}
	envFloat := func(name string) float64 {
		v, _ := strconv.ParseFloat(getenv(name), 64)
		return v
	}
	fs.Float64Var(&l.PerKey, "rate-per-key", envFloat("DATAPORT_RATE_PER_KEY"), "requests a second one API key may make, sustained (DATAPORT_RATE_PER_KEY; 0: 50)")
	fs.IntVar(&l.Burst, "rate-burst", int(envInt(getenv, "DATAPORT_RATE_BURST", 0)), "requests one API key may make at once after a pause (DATAPORT_RATE_BURST; 0: 500)")
	fs.Float64Var(&l.PerIP, "rate-per-ip", envFloat("DATAPORT_RATE_PER_IP"), "requests a second a client address may make without a key (DATAPORT_RATE_PER_IP; 0: 20)")
	fs.IntVar(&l.IPBurst, "rate-ip-burst", int(envInt(getenv, "DATAPORT_RATE_IP_BURST", 0)), "requests a client address may make at once without a key (DATAPORT_RATE_IP_BURST; 0: 500)")
	fs.Float64Var(&l.OperatorFactor, "rate-operator-factor", envFloat("DATAPORT_RATE_OPERATOR_FACTOR"), "how many times the rate and burst of a key the operator's and regulators' keys get (DATAPORT_RATE_OPERATOR_FACTOR; 0: 4)")
	fs.BoolVar(&l.Off, "rate-limits-off", getenv("DATAPORT_RATE_LIMITS_OFF") == "true", "no rate limits and no slowdown of failed sign-ins: for load tests only (DATAPORT_RATE_LIMITS_OFF=true)")
	fs.DurationVar(&l.RequestTimeout, "request-timeout", envDuration(getenv, "DATAPORT_REQUEST_TIMEOUT", 0), "how long an ordinary API call may run; uploads, downloads and streams are exempt (DATAPORT_REQUEST_TIMEOUT; 0: 60s; negative: none)")
	fs.DurationVar(&l.AuditRetention, "audit-retention", envDuration(getenv, "DATAPORT_AUDIT_RETENTION", 0), "how long the record of denied requests is kept (DATAPORT_AUDIT_RETENTION; 0: 90 days)")
	// Bad environment values are refused like bad flags: the flag's default is
	// the variable, parsed as the flag would be.
	proxies := func(v string) error {
		l.TrustedProxies = nil
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return fmt.Errorf("trusted proxy %q: want a CIDR such as 10.0.0.0/8", f)
			}
			l.TrustedProxies = append(l.TrustedProxies, p.Masked())
		}
		return nil
	}
	*envErr = proxies(getenv("DATAPORT_TRUSTED_PROXIES"))
	fs.Func("trusted-proxies", "comma-separated CIDRs of the load balancers whose X-Forwarded-For names the client (DATAPORT_TRUSTED_PROXIES; none: behind a proxy every client shares its address and its limits)", proxies)
	return l
}

// flagSet tells whether the command line set the flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
