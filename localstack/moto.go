package localstack

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// The script and the moto extensions travel inside the test binary, so that
// a test in any package (and any working directory) runs the same files.
//
//go:embed start.sh bootstrap.py compose.yaml motoext/sitecustomize.py motoext/cloudgate_moto.py
var scripts embed.FS

// Engine names the API double.
type Engine string

const (
	// EngineAuto is LocalStack when docker or podman answers and
	// LOCALSTACK_AUTH_TOKEN is set, moto otherwise.
	EngineAuto Engine = "auto"
	// EngineMoto is moto_server with Cloudgate's ELBv2 extensions.
	EngineMoto Engine = "moto"
	// EngineLocalStack is LocalStack in a container (compose.yaml).
	EngineLocalStack Engine = "localstack"
)

// The moto extensions (motoext/cloudgate_moto.py), as Env.Extensions names
// them.
const (
	ExtRuleTransforms       = "elbv2-rule-transforms"
	ExtConditionRegexValues = "elbv2-condition-regex-values"
	ExtQuotaRulesPerALB     = "elbv2-quota-rules-per-alb"
	ExtQuotaConditionValues = "elbv2-quota-condition-values-per-rule"
	ExtRuleTagsOnCreate     = "elbv2-rule-tags-on-create"
	ExtACMReimportKeepsTags = "acm-reimport-keeps-tags"
	ExtIdempotentCreates    = "elbv2-idempotent-creates"
	ExtNLBProtocols         = "elbv2-nlb-protocols"
	ExtACMDeleteInUse       = "acm-delete-in-use-refused"
	ExtAttributeDefaults    = "elbv2-attribute-defaults"
	ExtDeletionProtection   = "elbv2-deletion-protection"
	ExtSecurityGroupInUse   = "ec2-security-group-in-use"
	ExtNLBElasticIPs        = "elbv2-nlb-elastic-ips"
)

// Options choose the double and the network. The zero value is valid.
type Options struct {
	// Engine: "" means $CLOUDGATE_AWS_ENGINE, or EngineAuto.
	Engine Engine
	// Cluster names the kubernetes.io/cluster/<Cluster>=shared tags;
	// "" means "cloudgate-test".
	Cluster string
	// Region: "" means us-east-1.
	Region string
	// Timeout bounds the wait for the API; 0 means start.sh's default
	// (60s for moto, 180s for LocalStack).
	Timeout time.Duration
}

// Env is a running double and the network bootstrapped in it.
type Env struct {
	Engine          Engine
	Endpoint        string // AWS_ENDPOINT_URL, e.g. http://127.0.0.1:40123
	Region          string
	AccessKeyID     string // dummy values
	SecretAccessKey string
	Cluster         string
	VPCID           string
	// PublicSubnetIDs (kubernetes.io/role/elb=1) and PrivateSubnetIDs
	// (kubernetes.io/role/internal-elb=1) are in Zones' order, one per zone.
	PublicSubnetIDs  []string
	PrivateSubnetIDs []string
	Zones            []string
	// Extensions lists the moto extensions in effect (none on LocalStack).
	Extensions []string
	// Vars is the environment start.sh printed (AWS_ENDPOINT_URL, ...).
	Vars map[string]string

	stateDir string
	once     sync.Once
	stopErr  error
}

// TB is the part of testing.TB that Start uses. The package takes it
// rather than importing testing, so that commands (cloudgate-dev) can
// start a double with StartContext and still link no testing package.
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Logf(format string, args ...any)
	Error(args ...any)
	Fatal(args ...any)
}

// Start starts a double for a test and stops it in tb's cleanup. It fails
// the test (never skips it) when the double cannot start, with start.sh's
// explanation, such as how to install moto_server.
func Start(tb TB, opts Options) *Env {
	tb.Helper()
	ctx := context.Background()
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
	}
	e, err := StartContext(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			if log := e.LogTail(40); log != "" {
				tb.Logf("last lines of the %s log:\n%s", e.Engine, log)
			}
		}
		if err := e.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return e
}

// StartContext starts a double; the caller must call Stop.
func StartContext(ctx context.Context, opts Options) (*Env, error) {
	dir, err := os.MkdirTemp("", "cloudgate-aws-")
	if err != nil {
		return nil, err
	}
	e := &Env{stateDir: dir}
	if err := e.start(ctx, opts); err != nil {
		if stopErr := e.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return e, nil
}

func (e *Env) start(ctx context.Context, opts Options) error {
	if err := extract(filepath.Join(e.stateDir, "src")); err != nil {
		return err
	}
	engine := opts.Engine
	if engine == "" {
		engine = Engine(os.Getenv("CLOUDGATE_AWS_ENGINE"))
	}
	if engine == "" {
		engine = EngineAuto
	}
	cluster := opts.Cluster
	if cluster == "" {
		cluster = "cloudgate-test"
	}
	region := opts.Region
	if region == "" {
		region = "us-east-1"
	}
	args := []string{"start",
		"--engine", string(engine), "--cluster", cluster, "--region", region,
		// The moto server exits when this process is gone, cleanups or not.
		"--watch-pid", fmt.Sprint(os.Getpid())}
	if opts.Timeout > 0 {
		args = append(args, "--timeout", fmt.Sprint(int(opts.Timeout.Round(time.Second)/time.Second)))
	}
	if _, err := e.script(ctx, args...); err != nil {
		return err
	}
	vars, err := readEnv(filepath.Join(e.stateDir, "env"))
	if err != nil {
		return fmt.Errorf("localstack: start.sh printed no environment: %w", err)
	}
	e.Vars = vars
	e.Engine = Engine(vars["CLOUDGATE_AWS_ENGINE"])
	e.Endpoint = vars["AWS_ENDPOINT_URL"]
	e.Region = vars["AWS_REGION"]
	e.AccessKeyID = vars["AWS_ACCESS_KEY_ID"]
	e.SecretAccessKey = vars["AWS_SECRET_ACCESS_KEY"]
	e.Cluster = vars["CLOUDGATE_CLUSTER_NAME"]
	e.VPCID = vars["CLOUDGATE_AWS_VPC_ID"]
	e.PublicSubnetIDs = list(vars["CLOUDGATE_AWS_PUBLIC_SUBNET_IDS"])
	e.PrivateSubnetIDs = list(vars["CLOUDGATE_AWS_PRIVATE_SUBNET_IDS"])
	e.Zones = list(vars["CLOUDGATE_AWS_AVAILABILITY_ZONES"])
	e.Extensions = list(vars["CLOUDGATE_AWS_EXTENSIONS"])
	if e.Endpoint == "" || e.VPCID == "" || len(e.PublicSubnetIDs) != 2 || len(e.PrivateSubnetIDs) != 2 {
		return fmt.Errorf("localstack: incomplete environment from start.sh: %v", vars)
	}
	// start.sh's bootstrap already talked to the API; check that it still
	// listens where it said.
	u, err := url.Parse(e.Endpoint)
	if err != nil {
		return fmt.Errorf("localstack: endpoint %q: %w", e.Endpoint, err)
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return fmt.Errorf("localstack: %s does not answer: %w", e.Endpoint, err)
	}
	return conn.Close()
}

// Stop stops the double and removes its state. It is safe to call more than
// once.
func (e *Env) Stop() error {
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := os.Stat(filepath.Join(e.stateDir, "src", "start.sh")); err == nil {
			_, e.stopErr = e.script(ctx, "stop")
		}
		if err := os.RemoveAll(e.stateDir); err != nil {
			e.stopErr = errors.Join(e.stopErr, err)
		}
		if e.stopErr == nil {
			e.stopErr = waitClosed(e.Endpoint, 10*time.Second)
		}
	})
	return e.stopErr
}

// waitClosed waits until nothing answers at endpoint: the server's process
// may still be closing its socket when the stop script returns, and a caller
// of Stop must be able to rely on the port being free of it.
func waitClosed(endpoint string, timeout time.Duration) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil
	}
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err != nil {
			return nil
		}
		conn.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("localstack: %s still answers %s after stop", endpoint, timeout)
		}
	}
}

// Environ returns the environment start.sh printed, as KEY=VALUE pairs, to
// append to a subprocess's environment.
func (e *Env) Environ() []string {
	out := make([]string, 0, len(e.Vars))
	for k, v := range e.Vars {
		out = append(out, k+"="+v)
	}
	return out
}

// HasExtension says whether a moto extension (Ext...) is in effect.
func (e *Env) HasExtension(name string) bool {
	for _, x := range e.Extensions {
		if x == name {
			return true
		}
	}
	return false
}

// AWSConfig returns an SDK configuration for the double: its endpoint,
// region and dummy credentials, with shared config files and the instance
// metadata service left out, so that nothing on the machine points the
// test at a real account.
func (e *Env) AWSConfig(ctx context.Context) (aws.Config, error) {
	return e.AWSConfigVia(ctx, e.Endpoint)
}

// AWSConfigVia is AWSConfig with the API reached at endpoint, such as a
// FaultProxy's URL. (Setting BaseEndpoint on AWSConfig's result is not
// enough: the SDK's clients also read the endpoint from the load options.)
func (e *Env) AWSConfigVia(ctx context.Context, endpoint string) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(e.Region),
		config.WithBaseEndpoint(endpoint),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	)
}

// LogTail returns the last n lines of the moto log ("" on LocalStack, whose
// log is the container's).
func (e *Env) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(e.stateDir, "moto.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// script runs start.sh with this Env's state dir.
func (e *Env) script(ctx context.Context, args ...string) ([]byte, error) {
	args = append(append([]string{filepath.Join(e.stateDir, "src", "start.sh")}, args...), "--state-dir", e.stateDir)
	cmd := exec.CommandContext(ctx, "bash", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The servers start.sh leaves running hold neither pipe, so Wait
	// returns when the script does.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("localstack: start.sh %s: %w\n%s", args[1], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func extract(dst string) error {
	return fs.WalkDir(scripts, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := scripts.ReadFile(path)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(path, ".sh") {
			mode = 0o755
		}
		return os.WriteFile(target, b, mode)
	})
}

func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if ok && k != "" {
			vars[k] = v
		}
	}
	return vars, s.Err()
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
