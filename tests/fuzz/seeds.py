#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Make the seed corpus of a fuzz target, deterministically:
#     tests/fuzz/seeds.py TARGET BINARY OUTDIR
# e.g. tests/fuzz/seeds.py fuzz-virtq tests/fuzz/build/fuzz-virtq \
#          $(srcdir)/tests/fuzz/corpus/fuzz-virtq
# from the build directory after `make fuzz`.  Random programs from a fixed
# generator (random.Random(1), N=20000 of them by default) run once each
# with FUZZ_TRACE=1; for each behaviour class below (regular expressions
# its trace must all match) the smallest program that shows it, the first
# one on a tie, becomes OUTDIR/seed-<first 8 hex digits of its SHA-1>, as
# the other corpora are named.  The same binary gives the same seeds.
import hashlib
import os
import random
import re
import subprocess
import sys
import tempfile

CLASSES = {
    'fuzz-virtq': [
        ('split-pop-push', [r'^new: split.*: 0 \(model 0\)', r'^pop of 1: 1 ', r'^push 1: 0']),
        ('packed-pop-push', [r'^new: packed.*: 0 \(model 0\)', r'^pop of 1: 1 ',
                             r'^push [0-9]+: 0']),
        ('indirect', [r'indirect id', r'^pop( batch)? of [0-9]+: [1-9]']),
        ('event-idx', [r'event_idx 1.*: 0 \(model 0\)', r'^push [0-9]+: 0 notify 1']),
        ('broken-reset', [r'^pop( batch)? of [0-9]+: -(22|40|14|71|75|13|7) ', r'^reset: 0']),
        ('both-ways', [r'^  id [0-9]+: [1-9][0-9]*\+[1-9]', r'^push [0-9]+: 0']),
        ('copy-back-refused', [r'^push [0-9]+: -5 .*\(model breaks 1\)']),
        ('batch', [r'^pop batch of [0-9]+: [2-9] ', r'^  [1-9][0-9]* published']),
        ('batch-waits', [r'^pop batch of [0-9]+: [2-9] ', r'^  0 published']),
        ('refused', [r'^  id [0-9]+: .* refused', r'^push [0-9]+: 0']),
    ],
    'fuzz-xsconfig': [
        ('parse', [r'^parse .*: 0 \(model 0\)']),
        ('frontend', [r'^read_frontend: 0 \(model 0\)']),
        ('frontend-bad', [r'^read_frontend: -22 \(model -22\)']),
        ('backend', [r'^read_backend: 0 \(model 0\)']),
        ('xl', [r'^parse_xl_virtio: 0 \(model 0\)']),
        ('device', [r'^connect \(model 0\)', r'^freed: [1-9][0-9]* connects']),
    ],
}


def main():
    target, binary, out = sys.argv[1:4]
    classes = CLASSES[target]
    rng = random.Random(1)
    inputs = []
    for _ in range(int(os.environ.get('N', '20000'))):
        n = rng.randint(4, 200)
        inputs.append(bytes(rng.randrange(256) for _ in range(n)))
    best = {}
    tmp = tempfile.mkdtemp()
    batch = 500
    for b in range(0, len(inputs), batch):
        files = []
        for i, data in enumerate(inputs[b:b + batch]):
            f = os.path.join(tmp, 'in%06d' % (b + i))
            with open(f, 'wb') as fh:
                fh.write(data)
            files.append(f)
        r = subprocess.run([binary] + files, env=dict(os.environ, FUZZ_TRACE='1'),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # libFuzzer prints "Running: FILE" before each input's trace
        for chunk in r.stdout.decode('latin-1').split('Running: ')[1:]:
            idx = int(os.path.basename(chunk.split('\n', 1)[0].strip())[2:])
            data = inputs[idx]
            for name, pats in classes:
                if all(re.search(p, chunk, re.M) for p in pats):
                    if name not in best or (len(data), idx) < (len(best[name][1]), best[name][0]):
                        best[name] = (idx, data)
        for f in files:
            os.unlink(f)
    os.rmdir(tmp)
    os.makedirs(out, exist_ok=True)
    for name, _ in classes:
        if name not in best:
            print('%s: none' % name)
            continue
        data = best[name][1]
        h = hashlib.sha1(data).hexdigest()[:8]
        with open(os.path.join(out, 'seed-' + h), 'wb') as fh:
            fh.write(data)
        print('%s: seed-%s (%d bytes)' % (name, h, len(data)))


if __name__ == '__main__':
    main()
