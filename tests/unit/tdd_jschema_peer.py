#!/usr/bin/python3
"""unit.tdd_jschema_peer: our validator (tdd_verdicts) against an
independent peer, python3-jsonschema's Draft7Validator, on the same
documents: the TDs of tests/data/tdd/ and, for each valid one, every
single-node mutation (each value replaced by 42, "x", null, true, [], {},
each object member deleted). Verdicts must agree on every document.
Usage: tdd_jschema_peer.py TDD_VERDICTS SCHEMA_DIR DATA_DIR"""
import copy, glob, importlib.metadata, json, os, subprocess, sys, tempfile
import jsonschema

helper, schema_dir, data_dir = sys.argv[1:4]
schemas = [os.path.join(schema_dir, 'td-json-schema-validation.json'),
           os.path.join(schema_dir, 'discovery-schema.json')]
validators = [jsonschema.Draft7Validator(json.load(open(p))) for p in schemas]

def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))

def mutate(doc, path, how):
    d = copy.deepcopy(doc)
    if not path:
        return how if how != 'DEL' else None
    parent = d
    for p in path[:-1]:
        parent = parent[p]
    if how == 'DEL':
        if not isinstance(parent, dict):
            return None
        del parent[path[-1]]
    else:
        parent[path[-1]] = how
    return d

docs = sorted(glob.glob(os.path.join(data_dir, '*', '*.json')))
with tempfile.TemporaryDirectory() as tmp:
    n = 0
    for f in sorted(glob.glob(os.path.join(data_dir, 'valid', '*.json'))):
        base = json.load(open(f))
        for p in paths(base):
            for how in (42, 'x', None, True, [], {}, 'DEL'):
                m = mutate(base, p, how)
                if m is None and how == 'DEL':
                    continue
                out = os.path.join(tmp, 'm%05d.json' % n)
                with open(out, 'w') as fh:
                    json.dump(m, fh)
                docs.append(out)
                n += 1
    r = subprocess.run([helper] + schemas + ['--'] + docs,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit('tdd_verdicts failed: %s' % r.stderr)
    ours = {}
    for line in r.stdout.splitlines():
        verdict, rest = line.split(' ', 1)
        ours[rest.split(': ', 1)[0]] = (verdict == 'valid', line)
    bad = 0
    nvalid = 0
    for d in docs:
        inst = json.load(open(d))
        theirs = all(v.is_valid(inst) for v in validators)
        nvalid += theirs
        if d not in ours or ours[d][0] != theirs:
            bad += 1
            if bad <= 20:
                print('MISMATCH %s: python says %s, we say %s' % (
                    d, 'valid' if theirs else 'invalid',
                    ours.get(d, (None, 'nothing'))[1]))
                if d.startswith(tmp):
                    print('  doc: %s' % json.dumps(inst)[:400])
    print('%d documents (%d mutations), %d valid per python3-jsonschema %s, '
          '%d mismatches' % (len(docs), n, nvalid, importlib.metadata.version('jsonschema'), bad))
    if len(docs) < 100 or nvalid == 0 or nvalid == len(docs):
        sys.exit('too few documents or only one verdict: the test proves nothing')
    sys.exit(1 if bad else 0)
