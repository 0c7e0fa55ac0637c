package localcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// recordTime is the fixed-width form of RFC 3339 with nanoseconds. A
// kubelet writes timestamps this way (timestamps=true), so `kubectl logs
// --timestamps` output looks the same; fixed width also keeps records
// aligned in the file.
const recordTime = "2006-01-02T15:04:05.000000000Z07:00"

// maxLogLine is where a line without a newline is cut into partial records,
// as container runtimes do, so that a process that never writes '\n' cannot
// grow the kubelet's memory.
const maxLogLine = 16 << 10

// Stream names, as in the records and in the kubelet API's stream parameter
// (which says "Stdout" and "Stderr").
const (
	streamStdout = "stdout"
	streamStderr = "stderr"
)

// containerLog is the output of one run of one container. The process's
// stdout and stderr are pipes to the kubelet, which writes every line twice:
// as it came to the container's combined output file (Cluster.LogPath, all
// runs appended, what people read), and as a record with the time it came
// and its stream to this run's own file, in the CRI log format
// ("<time> <stream> <F|P> <line>"), which the kubelet API serves. The
// arrival time is what sinceTime and sinceSeconds select on, so the
// apiserver's log options work as in a real cluster.
type containerLog struct {
	path string // this run's records

	// Write ends for the process; the caller closes them once the process
	// has started (or failed to), so that EOF means the process is done.
	stdout, stderr *os.File

	mu      sync.Mutex
	records *os.File
	plain   *os.File
	changed chan struct{} // closed and replaced at each record
	done    chan struct{} // closed when both streams ended and the files are closed
}

// newContainerLog creates the run's record file, opens the combined output
// file for appending and starts copying from the process's pipes.
func newContainerLog(recordPath, plainPath string) (_ *containerLog, err error) {
	l := &containerLog{path: recordPath, changed: make(chan struct{}), done: make(chan struct{})}
	var closers []io.Closer
	defer func() {
		if err != nil {
			for _, c := range closers {
				_ = c.Close()
			}
		}
	}()
	if l.records, err = os.OpenFile(recordPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644); err != nil {
		return nil, err
	}
	closers = append(closers, l.records)
	if l.plain, err = os.OpenFile(plainPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, err
	}
	closers = append(closers, l.plain)
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	closers = append(closers, outR, outW)
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	l.stdout, l.stderr = outW, errW

	var copiers sync.WaitGroup
	copiers.Go(func() { l.copy(outR, streamStdout) })
	copiers.Go(func() { l.copy(errR, streamStderr) })
	go func() {
		copiers.Wait()
		l.mu.Lock()
		_ = l.records.Close()
		_ = l.plain.Close()
		l.mu.Unlock()
		close(l.done)
	}()
	return l, nil
}

// closeWriters closes the kubelet's copies of the pipes' write ends.
func (l *containerLog) closeWriters() {
	_ = l.stdout.Close()
	_ = l.stderr.Close()
}

// wait waits until the process's output has all been written, or up to d:
// a process's children may keep the pipes open after it exited.
func (l *containerLog) wait(d time.Duration) {
	select {
	case <-l.done:
	case <-time.After(d):
	}
}

func (l *containerLog) copy(r *os.File, stream string) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			l.write(stream, line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// write records one line as the process wrote it: with its '\n', or
// without for a partial line. The time is taken under the lock, so records
// are in time order in the file. Write errors (a full disk) are dropped: the
// process must not block on them, and its exit status says more.
func (l *containerLog) write(stream string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	content, full := bytes.CutSuffix(line, []byte{'\n'})
	tag := "P"
	if full {
		tag = "F"
	}
	rec := make([]byte, 0, len(recordTime)+len(content)+12)
	rec = time.Now().UTC().AppendFormat(rec, recordTime)
	rec = fmt.Appendf(rec, " %s %s ", stream, tag)
	rec = append(rec, content...)
	rec = append(rec, '\n')
	_, _ = l.records.Write(rec)
	_, _ = l.plain.Write(line)
	close(l.changed)
	l.changed = make(chan struct{})
}

// state says whether the run's output is complete and returns what closes
// at the next record. Read it before reading the file: a record written
// after the read then closes the channel.
func (l *containerLog) state() (changed <-chan struct{}, finished bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		finished = true
	default:
	}
	return l.changed, finished
}

// logRecord is one parsed line of a record file.
type logRecord struct {
	time    time.Time
	stream  string
	full    bool // false: a partial line, continued by the next record
	content []byte
}

func parseRecord(line []byte) (logRecord, error) {
	line, ok := bytes.CutSuffix(line, []byte{'\n'})
	if !ok {
		return logRecord{}, errors.New("incomplete record")
	}
	fields := bytes.SplitN(line, []byte{' '}, 4)
	if len(fields) != 4 {
		return logRecord{}, fmt.Errorf("malformed record %q", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(fields[0]))
	if err != nil {
		return logRecord{}, err
	}
	return logRecord{time: t, stream: string(fields[1]), full: string(fields[2]) == "F", content: fields[3]}, nil
}

// logOptions are the kubelet API's query parameters for /containerLogs.
type logOptions struct {
	since      time.Time // zero: from the start
	tail       int64     // negative: all lines
	limitBytes int64     // zero: no limit
	follow     bool
	timestamps bool
	stream     string // "": both
}

func (o logOptions) selects(r logRecord) bool {
	return (o.stream == "" || o.stream == r.stream) && !r.time.Before(o.since)
}

// serve writes the records opts select to w. With follow it then writes
// new records as they come, calling flush after each batch, until the run's
// output ends, limitBytes is reached or ctx is done.
func (l *containerLog) serve(ctx context.Context, w io.Writer, flush func(), opts logOptions) error {
	f, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	out := &logOutput{w: w, opts: opts, left: opts.limitBytes}
	var pending []byte // a record being written while we read
	// readAvailable passes each complete record up to the end of the file
	// to emit, until emit returns false.
	readAvailable := func(emit func(logRecord) bool) error {
		for {
			chunk, err := r.ReadBytes('\n')
			pending = append(pending, chunk...)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			rec, perr := parseRecord(pending)
			pending = nil
			if perr != nil {
				return fmt.Errorf("%s: %w", l.path, perr)
			}
			if opts.selects(rec) && !emit(rec) {
				return nil
			}
		}
	}

	// Tail first: the last lines of what is there now.
	changed, finished := l.state()
	var tail []logRecord
	err = readAvailable(func(rec logRecord) bool {
		if opts.tail < 0 {
			return out.write(rec)
		}
		tail = append(tail, rec)
		if int64(len(tail)) > opts.tail {
			tail = tail[1:]
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, rec := range tail {
		if !out.write(rec) {
			break
		}
	}
	for opts.follow && !out.stopped && !finished {
		flush()
		select {
		case <-changed:
		case <-l.done:
		case <-ctx.Done():
			return nil
		}
		changed, finished = l.state()
		if err := readAvailable(out.write); err != nil {
			return err
		}
	}
	return out.err
}

// logOutput writes records as the kubelet API returns them and enforces
// limitBytes, cutting the last line as a kubelet does.
type logOutput struct {
	w       io.Writer
	opts    logOptions
	left    int64
	stopped bool
	err     error
}

func (o *logOutput) write(rec logRecord) bool {
	if o.stopped {
		return false
	}
	var b []byte
	if o.opts.timestamps {
		b = rec.time.AppendFormat(b, recordTime)
		b = append(b, ' ')
	}
	b = append(b, rec.content...)
	if rec.full {
		b = append(b, '\n')
	}
	if o.opts.limitBytes > 0 {
		if int64(len(b)) >= o.left {
			b, o.stopped = b[:o.left], true
		}
		o.left -= int64(len(b))
	}
	if _, err := o.w.Write(b); err != nil {
		o.stopped, o.err = true, err
	}
	return !o.stopped
}
