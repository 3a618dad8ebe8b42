#!/usr/bin/env python3
"""Checks the shipped monitoring (docs/monitoring/) against promtool and the daemon's metrics.

  check_monitoring.py [EXPOSITION]      (usually through check_monitoring.sh)

EXPOSITION is a saved scrape in the Prometheus text format (`curl 127.0.0.1:9815/metrics`).
Python 3 standard library only; promtool from $PROMTOOL or PATH (Debian: apt-get install
prometheus). Every check runs, then one line per problem:

  FAIL ...  a problem: the exit status is 1
  WARN ...  printed, not fatal
  ok ...    what passed

1. promtool: `check rules` on synguard-alerts.yml; `check config` on prometheus.yml copied to a
   temporary directory with the rules file (its relative rule_files path resolves there);
   `test rules` on tests/monitoring/synguard-alerts.test.yml; and every PromQL expression of the
   dashboard (Grafana variables replaced: $__rate_interval and the like by 1m, $var by .*) as a
   recording rule through `check rules`, so a syntax error in a panel fails too.
2. The files themselves: the dashboard is JSON, the YAML files parse (promtool parses them too;
   a small YAML-subset reader here gets the rules' structure), every alert has a severity label
   and summary and description annotations, the README describes it, the dashboard has the
   `datasource`, `instance` and `service` variables, unique panel ids and refIds, panels inside
   the 24-column grid and not overlapping, no undefined $variables, multi-value variables only
   behind =~ or !~.
3. Metric names: every identifier starting with synguard_ in the dashboard's and the rules'
   expressions (and the variables' label_values queries), _bucket/_sum/_count of a histogram
   counted as the histogram, must be a metric of the exposition (its `# TYPE` lines) if given,
   else of the table in docs/METRICS.md. `up` is Prometheus's own series: always there, but
   only ever selected with job="synguard", the job prometheus.yml defines.
   Labels: a label in a selector or in by()/without() must be one the metric has (the
   documented labels, or with an exposition the labels of its samples, plus instance and job,
   and le for _bucket); a documented label with listed values (`mode`: normal, cookie) only
   takes those values.
4. With an exposition: `promtool check metrics` on it. Parse errors fail. Lint problems fail for
   synguard_* metrics (our names: they are the interface of the dashboard, the rules and every
   user's queries, so a convention slip is fixed before it ships) and are warnings for other
   families (prometheus-cpp's exposer_* metrics, which we do not name). Every metric of
   docs/METRICS.md must be exposed, with the documented type and labels; a synguard_* metric
   the table does not list is a warning (the documentation is behind).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MON = os.path.join(ROOT, "docs", "monitoring")
DASHBOARD = os.path.join(MON, "synguard-dashboard.json")
RULES = os.path.join(MON, "synguard-alerts.yml")
PROMCONF = os.path.join(MON, "prometheus.yml")
README = os.path.join(MON, "README.md")
METRICS_MD = os.path.join(ROOT, "docs", "METRICS.md")
RULE_TESTS = os.path.join(ROOT, "tests", "monitoring", "synguard-alerts.test.yml")
JOB = "synguard"

IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')\s*,?')
GROUPING = re.compile(r"\b(by|without)\s*\(([^)]*)\)")
GRAFANA_VAR = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")
GRAFANA_INTERVALS = {"__interval": "1m", "__rate_interval": "1m", "__range": "1h",
                     "__range_s": "3600", "__range_ms": "3600000", "__interval_ms": "60000"}
TARGET_LABELS = {"instance", "job"}

problems, warnings = [], []


def fail(msg):
    problems.append(msg)


def warn(msg):
    warnings.append(msg)


# ---------------------------------------------------------------- a YAML subset reader


class YamlError(Exception):
    pass


class MiniYaml:
    """Block mappings and sequences, plain, quoted and block (| >) scalars, comments, and
    one-line flow sequences of scalars: what Prometheus rule and configuration files use.
    Anything else raises YamlError (extend the reader rather than the files)."""

    def __init__(self, text):
        self.lines = text.split("\n")

    def parse(self):
        i = self._skip(0)
        if i >= len(self.lines):
            return None
        value, i = self._block(i, self._indent(i))
        i = self._skip(i)
        if i < len(self.lines):
            raise YamlError(f"line {i + 1}: unexpected indentation")
        return value

    @staticmethod
    def _significant(line):
        s = line.strip()
        return s and not s.startswith("#")

    def _skip(self, i):
        while i < len(self.lines) and not self._significant(self.lines[i]):
            i += 1
        return i

    def _indent(self, i):
        line = self.lines[i]
        if "\t" in line[:len(line) - len(line.lstrip())]:
            raise YamlError(f"line {i + 1}: tab in indentation")
        return len(line) - len(line.lstrip(" "))

    def _block(self, i, indent):
        s = self.lines[i].strip()
        if s == "-" or s.startswith("- "):
            return self._sequence(i, indent)
        return self._mapping(i, indent)

    def _sequence(self, i, indent):
        items = []
        while True:
            i = self._skip(i)
            if i >= len(self.lines) or self._indent(i) != indent:
                break
            s = self.lines[i].strip()
            if not (s == "-" or s.startswith("- ")):
                break
            rest = s[1:].lstrip(" ")
            if not rest or rest.startswith("#"):
                j = self._skip(i + 1)
                if j < len(self.lines) and self._indent(j) > indent:
                    value, i = self._block(j, self._indent(j))
                else:
                    value, i = None, i + 1
            else:
                inner = indent + (len(s) - len(rest))
                self.lines[i] = " " * inner + rest
                if rest == "-" or rest.startswith("- "):
                    value, i = self._sequence(i, inner)
                elif self._key(rest):
                    value, i = self._mapping(i, inner)
                else:
                    value, i = self._scalar_value(rest, i, indent)
            items.append(value)
        return items, i

    @staticmethod
    def _key(s):
        m = re.match(r'^("(?:[^"\\]|\\.)*"|\'(?:[^\']|\'\')*\'|[^\s#\'"{\[][^#]*?)\s*:(\s|$)', s)
        if not m:
            return None
        k = m.group(1)
        if k[0] in "\"'":
            k = MiniYaml._quoted(k, 0)
        return k, s[m.end():].strip()

    def _mapping(self, i, indent):
        result = {}
        while True:
            i = self._skip(i)
            if i >= len(self.lines) or self._indent(i) != indent:
                break
            s = self.lines[i].strip()
            if s == "-" or s.startswith("- "):
                break
            kv = self._key(s)
            if not kv:
                raise YamlError(f"line {i + 1}: expected 'key: value'")
            key, rest = kv
            if key in result:
                raise YamlError(f"line {i + 1}: duplicate key {key!r}")
            if not rest or rest.startswith("#"):
                j = self._skip(i + 1)
                if j < len(self.lines) and (self._indent(j) > indent or (
                        self._indent(j) == indent and self.lines[j].strip().startswith("-"))):
                    value, i = self._block(j, self._indent(j))
                else:
                    value, i = None, i + 1
            else:
                value, i = self._scalar_value(rest, i, indent)
            result[key] = value
        return result, i

    @staticmethod
    def _quoted(s, lineno):
        if s[0] == '"':
            try:
                return json.loads(s)
            except ValueError:
                raise YamlError(f"line {lineno}: bad double-quoted string")
        return s[1:-1].replace("''", "'")

    def _scalar_value(self, rest, i, indent):
        """A scalar starting on line i after 'key:' or '- ' (owner at `indent`)."""
        if rest[0] in "|>":
            m = re.match(r"^([|>])([+-]?)\s*(#.*)?$", rest)
            if not m:
                raise YamlError(f"line {i + 1}: unsupported block scalar header")
            style, chomp = m.group(1), m.group(2)
            body, j = [], i + 1
            block_indent = None
            while j < len(self.lines):
                line = self.lines[j]
                if line.strip():
                    ind = len(line) - len(line.lstrip(" "))
                    if ind <= indent:
                        break
                    if block_indent is None:
                        block_indent = ind
                    if ind < block_indent:
                        break
                    body.append(line[block_indent:])
                else:
                    body.append("")
                j += 1
            while body and body[-1] == "":
                body.pop()
            if style == "|":
                text = "\n".join(body)
            else:  # folded: a line break between two plain lines becomes a space
                text, prev, blanks = "", None, 0
                for line in body:
                    if line == "":
                        blanks += 1
                        continue
                    if prev is not None:
                        spaced = prev.startswith(" ") or line.startswith(" ")
                        text += "\n" * (blanks + 1) if spaced else ("\n" * blanks or " ")
                    text, prev, blanks = text + line, line, 0
            if chomp != "-" and body:
                text += "\n"
            return text, j
        if rest[0] in "\"'":
            m = re.match(r'^("(?:[^"\\]|\\.)*"|\'(?:[^\']|\'\')*\')\s*(#.*)?$', rest)
            if not m:
                raise YamlError(f"line {i + 1}: unsupported quoted scalar (multi-line?)")
            return self._quoted(m.group(1), i + 1), i + 1
        if rest[0] in "[{":
            m = re.match(r"^\[(.*)\]\s*(#.*)?$", rest)
            if not m:
                raise YamlError(f"line {i + 1}: unsupported flow collection")
            items = [x.strip() for x in m.group(1).split(",") if x.strip()]
            return [self._quoted(x, i + 1) if x[0] in "\"'" else x for x in items], i + 1
        if rest[0] in "&*!%@`":
            raise YamlError(f"line {i + 1}: anchors, aliases and tags are not supported")
        # A plain scalar, maybe continued on more indented lines (folded with spaces).
        text = re.sub(r"\s+#.*$", "", rest)
        j = i + 1
        while j < len(self.lines):
            line = self.lines[j]
            if not line.strip():
                j += 1
                continue
            if len(line) - len(line.lstrip(" ")) <= indent or line.strip().startswith("#"):
                break
            text += " " + re.sub(r"\s+#.*$", "", line.strip())
            j += 1
        return text, j


def load_yaml(path):
    try:
        with open(path) as f:
            return MiniYaml(f.read()).parse()
    except (OSError, YamlError) as e:
        fail(f"{rel(path)}: {e}")
        return None


def rel(path):
    return os.path.relpath(path, ROOT) if path.startswith(ROOT) else path


# ---------------------------------------------------------------- metric catalogues


class Metric:
    def __init__(self, name, mtype, labels, values=None):
        self.name, self.type, self.labels = name, mtype, set(labels)
        self.values = values or {}  # label -> set of allowed values (closed lists only)


def documented_metrics():
    metrics = {}
    try:
        text = open(METRICS_MD).read()
    except OSError as e:
        fail(f"cannot read docs/METRICS.md: {e}")
        return metrics
    for line in text.splitlines():
        m = re.match(r"^\|\s*`(synguard_[a-zA-Z0-9_:]+)`\s*\|([^|]*)\|([^|]*)\|", line)
        if not m:
            continue
        name, mtype, labels_col = m.group(1), m.group(2).strip().split()[0], m.group(3)
        # `label` (`v1`, `v2`), `other`: backticked words in parentheses are the values of
        # the label before them (a closed list unless it ends with "...").
        labels = set(re.findall(r"`([a-zA-Z_][a-zA-Z0-9_]*)`", re.sub(r"\([^)]*\)", "", labels_col)))
        values = {}
        for lm in re.finditer(r"`([a-zA-Z_][a-zA-Z0-9_]*)`\s*\(([^)]*)\)", labels_col):
            if "..." not in lm.group(2) and "\u2026" not in lm.group(2):
                values[lm.group(1)] = set(re.findall(r"`([^`]+)`", lm.group(2)))
        if name in metrics:
            fail(f"docs/METRICS.md lists {name} twice")
        metrics[name] = Metric(name, mtype, labels, values)
    if not metrics:
        fail("docs/METRICS.md: no metric table found")
    return metrics


def exposed_metrics(path):
    """name -> Metric from `# TYPE` lines, labels from the samples (None when no sample)."""
    metrics, sample_labels = {}, {}
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        fail(f"cannot read the exposition {path}: {e}")
        return None
    for line in lines:
        m = re.match(r"^#\s*TYPE\s+(\S+)\s+(\S+)", line)
        if m:
            metrics[m.group(1)] = Metric(m.group(1), m.group(2), set())
            continue
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
        if not m:
            continue
        labels = {lm.group(1) for lm in MATCHER.finditer(m.group(3) or "")}
        sample_labels.setdefault(m.group(1), set()).update(labels)
    for name, metric in metrics.items():
        seen = None
        for series in ([name] if metric.type not in ("histogram", "summary") else
                       [name, name + "_bucket", name + "_sum", name + "_count"]):
            if series in sample_labels:
                seen = (seen or set()) | (sample_labels[series] - {"le", "quantile"})
        metric.labels = seen  # None: the family has no sample
    return metrics


# ---------------------------------------------------------------- PromQL, pragmatically


def mask_strings(expr):
    """String literals' contents blanked out, positions kept: brackets and $vars in label
    values do not confuse the selector and parenthesis matching."""
    return STRING.sub(lambda m: m.group(0)[0] + "_" * (len(m.group(0)) - 2) + m.group(0)[-1], expr)


def base_name(token, catalogue):
    if token in catalogue:
        return token
    m = re.match(r"^(.*)_(bucket|sum|count)$", token)
    if m and m.group(1) in catalogue and catalogue[m.group(1)].type in ("histogram", "summary"):
        return m.group(1)
    return token


def metric_tokens(expr):
    return [t for t in IDENT.findall(mask_strings(expr)) if t.startswith("synguard_") or t == "up"]


def balanced(expr, start):
    """The index after the parenthesis group opening at expr[start] == '('."""
    depth = 0
    for k in range(start, len(expr)):
        if expr[k] == "(":
            depth += 1
        elif expr[k] == ")":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(expr)


def check_expr(expr, where, catalogue, source, used):
    """Metric names and labels of one expression."""
    bare = mask_strings(expr)
    for tok in metric_tokens(expr):
        if tok == "up":
            used.setdefault("up", where)
            continue
        name = base_name(tok, catalogue)
        used.setdefault(name, where)
        if name not in catalogue:
            fail(f"{where} uses {tok}, missing from {source}")
    # Selectors: label names and documented values.
    selected_up = 0
    for sm in SELECTOR.finditer(bare):
        tok, matchers = sm.group(1), expr[sm.start(2):sm.end(2)]
        if tok == "up":
            selected_up += 1
            job = [mm for mm in MATCHER.finditer(matchers) if mm.group(1) == "job"]
            if not job or job[0].group(2) != "=" or job[0].group(3)[1:-1] != JOB:
                fail(f'{where}: up must be selected with job="{JOB}"')
            continue
        if not tok.startswith("synguard_"):
            continue
        name = base_name(tok, catalogue)
        metric = catalogue.get(name)
        if metric is None or metric.labels is None:
            continue
        allowed = metric.labels | TARGET_LABELS | ({"le"} if tok.endswith("_bucket") else set())
        for mm in MATCHER.finditer(matchers):
            label, op, value = mm.group(1), mm.group(2), mm.group(3)[1:-1]
            if label not in allowed:
                fail(f"{where}: {name} has no label {label!r} (it has: "
                     f"{', '.join(sorted(metric.labels)) or 'none'})")
            elif op == "=" and label in metric.values and "$" not in value \
                    and value not in metric.values[label]:
                fail(f"{where}: {name}{{{label}={value!r}}}: docs/METRICS.md lists only "
                     f"{', '.join(sorted(metric.values[label]))}")
    if metric_tokens(expr).count("up") > selected_up:
        fail(f'{where}: up must be selected with job="{JOB}"')
    # by()/without(): each label must be a label of a metric aggregated there.
    if re.search(r"\blabel_(replace|join)\b", bare):
        return
    for m in GROUPING.finditer(bare):
        after = bare[m.end():].lstrip()
        if after.startswith("("):
            start = m.end() + bare[m.end():].index("(")
            inner = bare[start:balanced(bare, start)]
        else:  # sum(...) by (...): the group before
            k = m.start() - 1
            while k >= 0 and bare[k] == " ":
                k -= 1
            if k < 0 or bare[k] != ")":
                continue
            depth, j = 0, k
            while j >= 0:
                depth += bare[j] == ")"
                depth -= bare[j] == "("
                if depth == 0:
                    break
                j -= 1
            inner = bare[j:k + 1]
        have = set(TARGET_LABELS)
        known = True
        for tok in metric_tokens(inner):
            if tok == "up":
                continue
            metric = catalogue.get(base_name(tok, catalogue))
            if metric is None or metric.labels is None:
                known = False
                continue
            have |= metric.labels | ({"le"} if tok.endswith("_bucket") else set())
        if not known or not metric_tokens(inner):
            continue
        for label in [x.strip() for x in m.group(2).split(",") if x.strip()]:
            if label not in have:
                fail(f"{where}: {m.group(1)} ({label}): no metric aggregated there has "
                     f"the label {label!r}")


def grafana_to_promql(expr, variables):
    """Grafana's variables replaced so that promtool can parse the expression."""
    def sub(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in GRAFANA_INTERVALS:
            return GRAFANA_INTERVALS[name]
        return ".*" if name in variables else m.group(0)
    return GRAFANA_VAR.sub(sub, expr)


# ---------------------------------------------------------------- promtool


def promtool():
    exe = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if exe and not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        fail(f"PROMTOOL={exe} is not an executable; the promtool checks did not run")
        return None
    if not exe:
        fail("promtool missing: apt-get install prometheus (scripts/install-deps.sh), or set "
             "PROMTOOL; the promtool checks did not run")
    return exe


def run_promtool(exe, args, what, stdin=None, cwd=None):
    """Runs promtool; returns (rc, output). A non-zero status is a problem, with its output."""
    try:
        p = subprocess.run([exe] + args, input=stdin, cwd=cwd, capture_output=True, text=True,
                           timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        fail(f"{what}: {e}")
        return None, ""
    out = (p.stdout + p.stderr).strip()
    return p.returncode, out


def promtool_checks(exe, dashboard_rules):
    if not exe:
        return None
    rule_count = None
    rc, out = run_promtool(exe, ["check", "rules", RULES], "promtool check rules")
    if rc == 0:
        m = re.search(r"SUCCESS: (\d+) rules found", out)
        rule_count = int(m.group(1)) if m else None
        print(f"ok promtool check rules {rel(RULES)}: {rule_count} rules")
    elif rc is not None:
        fail(f"promtool check rules {rel(RULES)}: " + " / ".join(out.splitlines()))
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(PROMCONF, tmp)
        shutil.copy(RULES, tmp)
        conf = os.path.join(tmp, os.path.basename(PROMCONF))
        rc, out = run_promtool(exe, ["check", "config", conf], "promtool check config")
        if rc == 0:
            print(f"ok promtool check config {rel(PROMCONF)} (with the rules beside it)")
        elif rc is not None:
            fail(f"promtool check config {rel(PROMCONF)}: " + " / ".join(out.splitlines()))
        if dashboard_rules:
            path = os.path.join(tmp, "dashboard-queries.yml")
            with open(path, "w") as f:  # JSON is YAML
                json.dump({"groups": [{"name": "dashboard", "rules": [
                    {"record": name, "expr": expr} for name, expr, _ in dashboard_rules]}]}, f)
            rc, out = run_promtool(exe, ["check", "rules", path], "promtool (dashboard)")
            if rc == 0:
                print(f"ok promtool parses the dashboard's {len(dashboard_rules)} queries")
            elif rc is not None:
                where = {name: w for name, _, w in dashboard_rules}
                lines = out.splitlines()
                named = [ln for ln in lines if any(n in ln for n in where)]
                for ln in named or lines:
                    n = next((n for n in where if f'"{n}"' in ln), None)
                    msg = re.sub(r'^.*?"dashboard:[^"]*":\s*', "", ln.strip())
                    fail(f"{where[n] if n else 'the dashboard'}: promtool: {msg}")
    if os.path.exists(RULE_TESTS):
        rc, out = run_promtool(exe, ["test", "rules", os.path.basename(RULE_TESTS)],
                               "promtool test rules", cwd=os.path.dirname(RULE_TESTS))
        if rc == 0:
            print(f"ok promtool test rules {rel(RULE_TESTS)}")
        elif rc is not None:
            failed = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("alertname:")]
            for ln in failed or [" / ".join(out.splitlines()[-6:])]:
                fail(f"promtool test rules {rel(RULE_TESTS)}: {ln.rstrip(', ')}")
    else:
        fail(f"{rel(RULE_TESTS)} is missing")
    return rule_count


def check_exposition_lint(exe, path):
    if not exe:
        return
    try:
        data = open(path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError):
        return  # reported by exposed_metrics
    rc, out = run_promtool(exe, ["check", "metrics"], "promtool check metrics", stdin=data)
    if rc is None:
        return
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if rc == 0:
        print("ok promtool check metrics: no problem")
        return
    if rc != 3 or any(ln.startswith("error while linting") for ln in lines):
        fail("promtool check metrics: " + " / ".join(lines))
        return
    for ln in lines:  # lint problems: "metric_name text"
        if ln.split(" ", 1)[0].startswith("synguard_"):
            fail(f"promtool check metrics: {ln}")
        else:
            warn(f"promtool check metrics (not our metric): {ln}")


# ---------------------------------------------------------------- the files


def check_dashboard(catalogue, source, used):
    try:
        with open(DASHBOARD) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{rel(DASHBOARD)} is not valid JSON: {e}")
        return []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        fail("the dashboard's schemaVersion is missing or older than Grafana 9 (36)")
    templ = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    inputs = {i.get("name") for i in dash.get("__inputs", []) if i.get("pluginId") == "prometheus"}
    ds = templ.get("datasource")
    if not (ds and ds.get("type") == "datasource" and ds.get("query") == "prometheus") \
            and "DS_PROMETHEUS" not in inputs:
        fail("the dashboard has neither a `datasource` variable of type prometheus nor a "
             "DS_PROMETHEUS input")
    for name in ("instance", "service"):
        v = templ.get(name)
        q = v and (v.get("definition") or (v.get("query") or {}).get("query", ""))
        if not q or "label_values(" not in q:
            fail(f"the dashboard has no `{name}` variable from label_values()")
    variables = set(templ)
    multi = {n for n, v in templ.items() if v.get("multi") or v.get("includeAll")}
    queries = []  # (name, expr, where) for promtool

    def expr_checks(expr, where, ref):
        for m in GRAFANA_VAR.finditer(expr):
            name = m.group(1) or m.group(2) or m.group(3)
            if name not in variables and name not in GRAFANA_INTERVALS:
                fail(f"{where}: undefined variable ${name}")
        for m in re.finditer(r'([a-zA-Z_]\w*)\s*(!=|=)(?!~)\s*"[^"]*\$\{?(\w+)', expr):
            if m.group(3) in multi:
                fail(f"{where}: multi-value ${m.group(3)} needs {m.group(1)}=~, not {m.group(2)}")
        check_expr(expr, where, catalogue, source, used)
        queries.append((f"dashboard:{ref}", grafana_to_promql(expr, variables), where))

    for name, v in templ.items():
        q = v.get("definition") or (v.get("query") if isinstance(v.get("query"), str) else
                                    (v.get("query") or {}).get("query", ""))
        m = re.match(r"^\s*label_values\((.*),\s*([a-zA-Z_]\w*)\s*\)\s*$", q or "")
        if v.get("type") == "query" and m:
            sel = m.group(1)
            where = f"dashboard variable ${name}"
            expr_checks(sel, where, f"var_{name}")
            metric = catalogue.get(base_name((metric_tokens(sel) or [""])[0], catalogue))
            if metric and metric.labels is not None and \
                    m.group(2) not in metric.labels | TARGET_LABELS:
                fail(f"{where}: {metric.name} has no label {m.group(2)!r}")
    for k, a in enumerate(dash.get("annotations", {}).get("list", [])):
        if a.get("expr"):
            expr_checks(a["expr"], f"dashboard annotation {a.get('name')!r}", f"annotation_{k}")

    panels, ids = [], set()

    def walk(ps):
        for p in ps:
            panels.append(p)
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    if not panels:
        fail("the dashboard has no panels")
    rects = []
    for p in panels:
        title = f"dashboard panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            fail(f"{title}: duplicate panel id")
        ids.add(p.get("id"))
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] < 0 or g["x"] + g["w"] > 24:
            fail(f"{title}: gridPos outside the 24-column grid")
        else:
            for other, r in rects:
                if g["x"] < r["x"] + r["w"] and r["x"] < g["x"] + g["w"] and \
                        g["y"] < r["y"] + r["h"] and r["y"] < g["y"] + g["h"]:
                    fail(f"{title} overlaps panel {other}")
            rects.append((p.get("id"), g))
        if p.get("type") == "row":
            continue
        targets = p.get("targets") or []
        if not targets:
            fail(f"{title}: no queries")
        refs = set()
        for t in targets:
            ref = t.get("refId")
            if not ref or ref in refs:
                fail(f"{title}: missing or duplicate refId {ref!r}")
            refs.add(ref)
            if not (t.get("expr") or "").strip():
                fail(f"{title} query {ref}: no expr")
                continue
            dsrc = t.get("datasource") or p.get("datasource")
            uid = dsrc.get("uid") if isinstance(dsrc, dict) else dsrc
            if uid not in ("${datasource}", "$datasource", "${DS_PROMETHEUS}"):
                fail(f"{title} query {ref}: data source {uid!r} is neither the variable nor "
                     "the import input")
            expr_checks(t["expr"], f"{title} query {ref}", f"panel_{p.get('id')}_{ref}")
    print(f"ok the dashboard is JSON: {len(panels)} panels, {len(queries)} queries")
    return queries


def check_rules(catalogue, source, used, rule_count):
    doc = load_yaml(RULES)
    if doc is None:
        return
    groups = doc.get("groups") if isinstance(doc, dict) else None
    if not isinstance(groups, list) or not groups:
        fail(f"{rel(RULES)}: no rule groups")
        return
    if JOB not in [g.get("name") for g in groups if isinstance(g, dict)]:
        fail(f"{rel(RULES)}: no group named {JOB!r}")
    try:
        readme = open(README).read()
    except OSError:
        readme = ""
        fail(f"{rel(README)} is missing")
    rules, names = [], set()
    for g in groups:
        for r in (g.get("rules") or []) if isinstance(g, dict) else []:
            rules.append(r)
            name = r.get("alert") or r.get("record")
            where = f"rule {name}"
            if not name or not isinstance(r.get("expr"), str) or not r["expr"].strip():
                fail(f"{rel(RULES)}: a rule without a name or an expr")
                continue
            check_expr(r["expr"], where, catalogue, source, used)
            if "alert" not in r:
                continue
            if name in names:
                fail(f"{where}: defined twice")
            names.add(name)
            labels, ann = r.get("labels") or {}, r.get("annotations") or {}
            if labels.get("severity") not in ("critical", "warning", "info"):
                fail(f"{where}: severity label must be critical, warning or info")
            for key in ("summary", "description"):
                if not (ann.get(key) or "").strip():
                    fail(f"{where}: no {key} annotation")
            if readme and not re.search(r"\b%s\b" % re.escape(name), readme):
                fail(f"{where}: {rel(README)} does not describe it")
    if rule_count is not None and rule_count != len(rules):
        fail(f"{rel(RULES)}: promtool counts {rule_count} rules, this reader {len(rules)}")
    print(f"ok {rel(RULES)}: {len(rules)} rules, {len(names)} alerts")


def check_promconf():
    doc = load_yaml(PROMCONF)
    if not isinstance(doc, dict):
        return
    jobs = [s.get("job_name") for s in doc.get("scrape_configs") or [] if isinstance(s, dict)]
    if JOB not in jobs:
        fail(f"{rel(PROMCONF)}: no scrape job named {JOB!r} (the rules select job=\"{JOB}\")")
    if os.path.basename(RULES) not in (doc.get("rule_files") or []):
        fail(f"{rel(PROMCONF)}: rule_files does not load {os.path.basename(RULES)}")


def check_exposition(doc, exp):
    for name, metric in sorted(doc.items()):
        have = exp.get(name)
        if have is None:
            fail(f"docs/METRICS.md lists {name}, missing from the exposition")
            continue
        if have.type != metric.type:
            fail(f"{name} is a {have.type} in the exposition, a {metric.type} in docs/METRICS.md")
        if have.labels is not None and have.labels != metric.labels:
            fail(f"{name}: labels {{{', '.join(sorted(have.labels))}}} exposed, "
                 f"{{{', '.join(sorted(metric.labels))}}} documented")
    for name in sorted(set(exp) - set(doc)):
        if name.startswith("synguard_"):
            warn(f"{name} is exposed but docs/METRICS.md does not list it")


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip())
        return 2 if len(argv) > 2 else 0
    exposition = argv[1] if len(argv) == 2 else None
    doc = documented_metrics()
    catalogue, source = doc, "docs/METRICS.md"
    if exposition:
        exp = exposed_metrics(exposition)
        if exp is not None and not any(n.startswith("synguard_") for n in exp):
            fail(f"the exposition {exposition} has no synguard_* metric (`# TYPE` lines): not "
                 "a synguard scrape? Checked against docs/METRICS.md instead")
            exp = None
        if exp is not None:
            catalogue, source = exp, "the exposition"
            for name, metric in exp.items():  # documented values still constrain matchers
                if name in doc:
                    metric.values = doc[name].values
    exe = promtool()
    used = {}
    queries = check_dashboard(catalogue, source, used)
    rule_count = promtool_checks(exe, queries)
    check_rules(catalogue, source, used, rule_count)
    check_promconf()
    if exposition:
        check_exposition_lint(exe, exposition)
        if catalogue is not doc:
            check_exposition(doc, catalogue)
    unused = sorted(set(doc) - set(used))
    print(f"{len(used)} metrics used by the dashboard and the rules, {len(doc)} documented"
          + (f", {sum(n.startswith('synguard_') for n in catalogue)} exposed"
             if catalogue is not doc else "")
          + (f"; not shown anywhere: {', '.join(unused)}" if unused else ""))
    for w in warnings:
        print("WARN " + w)
    for p in problems:
        print("FAIL " + p)
    if problems:
        print(f"{len(problems)} problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
