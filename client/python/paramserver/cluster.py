"""The servers of one job, as a worker sees them: each variable on the
server the C++ client would put it on (placement.py), partitioned variables
split over consecutive servers, every call to a server naming the place the
worker expects it to hold.

Partitioned variables use the C++ client's committed layout: the int64
variable "<name>/.partitions" ([format 1, parts, dtype, trainable, rank,
dims...]) on the server that holds <name>, created only after every part
exists, so a variable partitioned from C++ is read and written from Python
and back.
"""

import concurrent.futures
import threading

import grpc
import numpy as np

from paramserver import connection as connection_lib
from paramserver import dtypes
from paramserver import errors
from paramserver import placement
from paramserver import rows as rows_lib
from paramserver import scopes
from paramserver_pb import parameter_server_pb2 as pb

_DESCRIPTOR_FORMAT = 1


class Layout:
    """How a partitioned variable is split along its first axis."""

    def __init__(self, shape, dtype, trainable, num_partitions):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = dtype
        self.trainable = trainable
        self.rows = placement.partition_rows(self.shape[0], num_partitions)
        row_elements = int(np.prod(self.shape[1:], dtype=np.int64))
        self.row_bytes = row_elements * dtype.size

    def descriptor(self):
        return [_DESCRIPTOR_FORMAT, len(self.rows), self.dtype.as_datatype_enum,
                1 if self.trainable else 0, len(self.shape)] + list(self.shape)

    def partitions_string(self):
        return "[%s]" % ", ".join([str(len(self.rows))] +
                                  ["1"] * (len(self.shape) - 1))


def _shape_string(shape):
    return "(%s)" % (", ".join(str(d) for d in shape) +
                     ("," if len(shape) == 1 else ""))



class Cluster:
    """One or more servers, in the order of their --shard_index."""

    def __init__(self, addresses, token=None, timeout=60.0, job=None,
                 tls=None):
        count = len(addresses)
        if count < 1:
            raise ValueError("connect: give at least one server address.")
        self.shards = [
            connection_lib.Connection(
                address, token=token, timeout=timeout,
                expected=(index, count, job) if count > 1 or job else None,
                tls=tls)
            for index, address in enumerate(addresses)]
        self._lock = threading.Lock()
        self._layouts = {}  # Full name -> Layout.
        # Partitioned name -> (whole version, its parts' versions) of the
        # last pull here, for conditional pulls of the parts.
        self._part_versions = {}
        self._spread_tables = set()  # Tables spread over the servers by id.
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, count)) if count > 1 else None

    def close(self):
        for shard in self.shards:
            shard.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def shard_of(self, full_name):
        return placement.shard_for_variable(full_name, len(self.shards))

    def _each(self, calls):
        """Runs {shard: fn} on their shards at once; {shard: result}, the
        first failure raised."""
        if self._pool is None or len(calls) <= 1:
            return {shard: fn() for shard, fn in calls.items()}
        futures = {shard: self._pool.submit(fn) for shard, fn in calls.items()}
        return {shard: future.result() for shard, future in futures.items()}

    def _send(self, requests, send):
        """{shard: [(slot, item)]}: send(shard, items) on every shard at
        once, its results in order; {slot: result}."""
        answers = self._each({
            shard: (lambda s=shard, rs=reqs: list(zip(
                [slot for slot, _ in rs], send(s, [item for _, item in rs]))))
            for shard, reqs in requests.items()})
        return {slot: result for results in answers.values()
                for slot, result in results}

    # ---- Variables ----

    def get_variable(self, request):
        full_name = scopes.join_scope(request.scope, request.name)
        return self.shards[self.shard_of(full_name)].call(
            "GetVariable", request).variable

    def layout(self, full_name, fresh=False):
        """The committed layout of `full_name`, or None; read from its
        server unless known here (or `fresh`)."""
        if not fresh:
            with self._lock:
                if full_name in self._layouts:
                    return self._layouts[full_name]
        shard = self.shards[self.shard_of(full_name)]
        try:
            [(info, value)] = shard.pull([(full_name + "/.partitions", 0)])
        except errors.VariableError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        values = np.frombuffer(value, dtype=np.int64) \
            if info.dtype == pb.DT_INT64 else np.zeros(0, np.int64)
        damaged = errors.ParameterServerError(
            "The layout of partitioned variable %s (%s/.partitions) does "
            "not decode; delete the variable and create it again." %
            (full_name, full_name), grpc.StatusCode.DATA_LOSS)
        if (len(values) < 5 or values[0] != _DESCRIPTOR_FORMAT or
                values[1] < 1 or values[1] > (1 << 20) or values[4] < 1 or
                len(values) != 5 + values[4] or
                any(d < 1 for d in values[5:])):
            raise damaged
        try:
            found = Layout(values[5:], dtypes.from_enum(int(values[2])),
                           bool(values[3] != 0), int(values[1]))
        except ValueError:
            raise damaged from None
        if len(found.rows) != values[1]:
            raise damaged
        with self._lock:
            self._layouts[full_name] = found
        return found

    def get_partitioned_variable(self, request, num_partitions):
        """tf.get_variable with a partitioner: parts "<name>/part_i" on
        consecutive servers, then the layout committed once; the whole
        variable's info (version: the sum of the parts') and its number of
        parts."""
        full_name = scopes.join_scope(request.scope, request.name)
        shape = list(request.shape.dims) if request.HasField("shape") else None
        if num_partitions < 1:
            raise ValueError("Partitioned variable %s needs at least one "
                             "partition, got %d." % (full_name,
                                                     num_partitions))
        if not shape:
            raise ValueError(
                "Shape of a new partitioned variable (%s) must be fully "
                "defined with rank >= 1, but instead was %s." %
                (full_name, _shape_string(shape) if shape is not None
                 else "<unknown>"))
        wanted = Layout(shape, dtypes.from_enum(request.dtype),
                        request.trainable, num_partitions)
        # Always the server's: another worker may have deleted or made it.
        committed = self.layout(full_name, fresh=True)
        with self._lock:
            self._layouts.pop(full_name, None)
        if committed is None and request.reuse == pb.REUSE:
            raise errors.VariableError(
                "PartitionedVariable %s does not exist, or was not created "
                "with tf.get_variable(). Did you mean to set reuse=False or "
                "reuse=tf.AUTO_REUSE in VarScope?" % full_name,
                grpc.StatusCode.NOT_FOUND)
        for _ in range(2):
            if committed is not None:
                if request.reuse == pb.CREATE:
                    raise errors.VariableError(
                        "Partitioned variable with name %s already exists. "
                        "Did you mean to set reuse=True or "
                        "reuse=tf.AUTO_REUSE in VarScope?" % full_name,
                        grpc.StatusCode.ALREADY_EXISTS)
                _check_reuse(wanted, committed, full_name)
            infos = self._get_parts(request, full_name, wanted,
                                    pb.REUSE if committed is not None
                                    else request.reuse)
            if committed is not None:
                with self._lock:
                    self._layouts[full_name] = committed
                return (self._whole_info(full_name, committed, infos),
                        len(committed.rows))
            try:
                self._commit(request, full_name, wanted)
                with self._lock:
                    self._layouts[full_name] = wanted
                return (self._whole_info(full_name, wanted, infos),
                        len(wanted.rows))
            except errors.VariableError as error:
                if error.code != grpc.StatusCode.ALREADY_EXISTS:
                    raise
            # Another worker committed first: reuse what it committed.
            committed = self.layout(full_name, fresh=True)
            if committed is None:
                raise errors.ParameterServerError(
                    "Partitioned variable %s was committed and deleted again "
                    "while this call created it; retry." % full_name,
                    grpc.StatusCode.ABORTED)
        raise AssertionError("unreachable")

    def _get_parts(self, request, full_name, layout, reuse):
        first_row, calls = 0, {}
        by_shard = {}
        for p, rows in enumerate(layout.rows):
            part = pb.GetVariableRequest()
            part.CopyFrom(request)
            part.name = request.name + "/part_%d" % p
            part.reuse = reuse
            del part.shape.dims[:]
            part.shape.dims.extend([rows] + list(layout.shape[1:]))
            _part_initializer(part.initializer, layout, p, first_row, rows,
                              full_name)
            first_row += rows
            shard = placement.shard_for_partition(full_name, p,
                                                  len(self.shards))
            by_shard.setdefault(shard, []).append((p, part))
        for shard, parts in by_shard.items():
            calls[shard] = (lambda s=shard, ps=parts: [
                (p, self.shards[s].call("GetVariable", r).variable)
                for p, r in ps])
        infos = [None] * len(layout.rows)
        for results in self._each(calls).values():
            for p, info in results:
                infos[p] = info
        return infos

    def _commit(self, request, full_name, layout):
        values = layout.descriptor()
        descriptor = pb.GetVariableRequest(
            name=full_name + "/.partitions", reuse=pb.CREATE,
            dtype=pb.DT_INT64, trainable=False)
        descriptor.shape.dims.append(len(values))
        descriptor.initializer.kind = pb.Initializer.CONSTANT
        descriptor.initializer.int64_values.extend(values)
        descriptor.initializer.values.extend(float(v) for v in values)
        del request
        self.shards[self.shard_of(full_name)].call("GetVariable", descriptor)

    @staticmethod
    def _whole_info(full_name, layout, part_infos):
        info = pb.VariableInfo(name=full_name, dtype=layout.dtype.as_datatype_enum,
                               trainable=layout.trainable,
                               version=sum(i.version for i in part_infos))
        info.shape.dims.extend(layout.shape)
        return info

    # ---- Data ----

    def pull(self, items):
        """[(full name, known_version)] -> [(info, value or None)], the
        servers asked at once. A partitioned variable's parts are pulled
        whole (known_version 0) and joined; its version is their sum. A
        name no server has may be a variable another worker partitioned:
        its layout is learned and the pull made again."""
        return self._learning(lambda: self._pull(items),
                              [item[0] for item in items])

    def _learning(self, call, names):
        try:
            return call()
        except errors.VariableError as error:
            if error.code != grpc.StatusCode.NOT_FOUND or not any(
                    not self._known_layout(n) and self.layout(n) is not None
                    for n in names):
                raise
        return call()

    def _pull(self, items):
        requests = {}  # shard -> [(slot, name, known)]
        plans = []     # per item: None, or (layout, [part slots])
        for index, item in enumerate(items):
            name = item[0]
            layout = self._cached_layout(name)
            if layout is None:
                requests.setdefault(self.shard_of(name), []).append(
                    (index, item))
                plans.append(None)
                continue
            # With the caller's array of the version last pulled here, each
            # part is pulled conditionally: an unchanged part is not sent,
            # and its bytes come from that array.
            held = item[3] if len(item) > 3 else None
            known_parts = self._known_parts(name, item[1]) \
                if held is not None else None
            slots = []
            for p in range(len(layout.rows)):
                part_name = placement.partition_name(name, p)
                shard = placement.shard_for_partition(name, p,
                                                      len(self.shards))
                slot = ("part", index, p)
                requests.setdefault(shard, []).append(
                    (slot, (part_name, known_parts[p] if known_parts else 0,
                            layout.rows[p] * layout.row_bytes)))
                slots.append(slot)
            plans.append((layout, slots, held if known_parts else None))
        by_slot = self._send(requests,
                             lambda shard, items: self.shards[shard].pull(items))
        out = []
        for index, item in enumerate(items):
            name = item[0]
            plan = plans[index]
            if plan is None:
                out.append(by_slot[index])
                continue
            layout, slots, held = plan
            parts = [by_slot[slot] for slot in slots]
            whole = self._whole_info(name, layout, [i for i, _ in parts])
            if all(value is None for _, value in parts):
                out.append((whole, None))  # The caller's array is current.
                continue
            held_bytes = None if held is None else memoryview(held).cast("B")
            pieces, first = [], 0
            for p, (info, value) in enumerate(parts):
                size = layout.rows[p] * layout.row_bytes
                if value is None:
                    value = held_bytes[first:first + size]
                if len(value) != size:
                    raise errors.ParameterServerError(
                        "Partition %s of %s no longer fits the variable's "
                        "layout." % (info.name, name),
                        grpc.StatusCode.FAILED_PRECONDITION)
                pieces.append(value)
                first += size
            self._remember_parts(name, whole.version,
                                 [i.version for i, _ in parts])
            out.append((whole, b"".join(bytes(v) for v in pieces)))
        return out

    def _known_parts(self, name, known):
        """The parts' versions of the pull of `name` that gave version
        `known` (their sum), or None."""
        with self._lock:
            remembered = self._part_versions.get(name)
        if known <= 0 or remembered is None or remembered[0] != known:
            return None
        return remembered[1]

    def _remember_parts(self, name, version, part_versions):
        with self._lock:
            self._part_versions[name] = (version, part_versions)

    def _known_layout(self, name):
        return self._cached_layout(name) is not None

    def _cached_layout(self, name):
        with self._lock:
            return self._layouts.get(name)

    def push(self, updates, optimizer=None, max_staleness=0, push_id=None):
        """[(full name, kind, value, base_version)] -> infos. One push per
        server, at once: all or nothing on each server, not across them (a
        push that fails on one server may have applied on another). A
        partitioned variable's value is split by rows over its parts. A
        push to one server that found no variable is made again after
        learning layouts, as a pull is (nothing was applied). Every
        server's part carries the one `push_id` (None: a random one), so a
        retry of the whole push applies only the parts not applied."""
        if push_id is None:
            push_id = connection_lib.new_push_id()
        names = [u[0] for u in updates]
        with self._lock:
            layouts = {n: self._layouts[n] for n in names
                       if n in self._layouts}
        if layouts or len({self.shard_of(n) for n in names}) > 1:
            # Another server may have applied its part: never repeated.
            return self._push(updates, optimizer, max_staleness, layouts,
                              push_id)
        try:
            return self._push(updates, optimizer, max_staleness, {}, push_id)
        except errors.VariableError as error:
            # One server, which applied nothing: maybe partitioned.
            if error.code != grpc.StatusCode.NOT_FOUND or not any(
                    self.layout(n) is not None for n in names):
                raise
        return self.push(updates, optimizer, max_staleness, push_id)

    def _push(self, updates, optimizer, max_staleness, layouts, push_id):
        requests = {}
        plans = []
        for index, (name, kind, value, base) in enumerate(updates):
            layout = layouts.get(name)
            if layout is None:
                requests.setdefault(self.shard_of(name), []).append(
                    (index, (name, kind, value, base)))
                plans.append(None)
                continue
            if base is not None:
                raise ValueError("Bounded staleness needs an unpartitioned "
                                 "variable; %s is partitioned." % name)
            view = memoryview(value).cast("B")
            if len(view) != layout.shape[0] * layout.row_bytes:
                raise ValueError("The value for %s has %d bytes; its shape "
                                 "and dtype need %d." %
                                 (name, len(view),
                                  layout.shape[0] * layout.row_bytes))
            slots, first = [], 0
            for p, rows in enumerate(layout.rows):
                shard = placement.shard_for_partition(name, p,
                                                      len(self.shards))
                slot = ("part", index, p)
                part_bytes = view[first * layout.row_bytes:
                                  (first + rows) * layout.row_bytes]
                requests.setdefault(shard, []).append(
                    (slot, (placement.partition_name(name, p), kind,
                            part_bytes, None)))
                slots.append(slot)
                first += rows
            plans.append((layout, slots))
        by_slot = self._send(
            requests, lambda shard, items: self.shards[shard].push(
                items, optimizer, max_staleness, push_id))
        out = []
        for index, (name, _, _, _) in enumerate(updates):
            plan = plans[index]
            if plan is None:
                out.append(by_slot[index])
            else:
                layout, slots = plan
                out.append(self._whole_info(name, layout,
                                            [by_slot[s] for s in slots]))
        return out


    # ---- Rows (rows.py) ----

    def gather_rows(self, full_name, ids, strategy):
        """(version, rows): the rows `ids` of `full_name`, bytes in the
        ids' order, and the version they were read at (None for a
        partitioned variable, whose parts are read at their own versions,
        and for a table spread over servers); a partitioned variable's
        rows from its parts at once, placed by `strategy` ("mod" or
        "div")."""
        return self._learning(
            lambda: self._gather_rows(full_name, ids, strategy), [full_name])

    def _gather_rows(self, full_name, ids, strategy):
        layout = self._cached_layout(full_name)
        if layout is None:
            if self._is_spread(full_name):
                return None, self._gather_spread(full_name, ids)
            shard = self.shards[self.shard_of(full_name)]
            try:
                info, rows = shard.gather_rows(full_name, ids)
                return info.version, rows
            except errors.ParameterServerError as error:
                # A table spread over the servers by another worker: its
                # slice here refused ids it does not hold.
                if not self._learned_spread(full_name, error):
                    raise
            return None, self._gather_spread(full_name, ids)
        parts = rows_lib.split_for_parts(layout, ids, None, strategy,
                                         full_name)
        requests = {}
        for p, (part_ids, _, _) in enumerate(parts):
            if len(part_ids):
                shard = placement.shard_for_partition(full_name, p,
                                                      len(self.shards))
                requests.setdefault(shard, []).append(
                    (p, (placement.partition_name(full_name, p), part_ids)))
        by_slot = self._send(requests, lambda shard, items: [
            self.shards[shard].gather_rows(name, part_ids)[1]
            for name, part_ids in items])
        out = np.empty((len(ids), layout.row_bytes), np.uint8)
        for p, (part_ids, _, where) in enumerate(parts):
            if not len(part_ids):
                continue
            got = by_slot[p]
            if len(got) != len(part_ids) * layout.row_bytes:
                raise errors.ParameterServerError(
                    "%s answered %d bytes for %d rows of %d bytes." %
                    (placement.partition_name(full_name, p), len(got),
                     len(part_ids), layout.row_bytes),
                    grpc.StatusCode.DATA_LOSS)
            out[where] = np.frombuffer(got, np.uint8).reshape(
                len(part_ids), layout.row_bytes)
        return None, out.data

    def lookup_sparse(self, full_name, ids, bags, strategy):
        """Pooled rows, one per bag (bytes); a partitioned variable's bags
        split over its parts (rows_lib.split_bags), pooled where they live
        and added here."""
        return self._learning(
            lambda: self._lookup_sparse(full_name, ids, bags, strategy),
            [full_name])

    def _lookup_sparse(self, full_name, ids, bags, strategy):
        layout = self._cached_layout(full_name)
        if layout is None:
            shard = self.shards[self.shard_of(full_name)]
            return shard.lookup_sparse(full_name, ids, bags)[1]
        if layout.dtype.as_numpy_dtype != np.float32:
            raise errors.VariableError(
                "Pooled lookups need a float32 table; %s is %s." %
                (full_name, layout.dtype.name),
                grpc.StatusCode.INVALID_ARGUMENT)
        parts = rows_lib.split_bags(layout, ids, bags, strategy, full_name)
        requests = {}
        for p, (part_ids, part_bags, whole_bags) in enumerate(parts):
            if whole_bags:
                shard = placement.shard_for_partition(full_name, p,
                                                      len(self.shards))
                requests.setdefault(shard, []).append(
                    (p, (placement.partition_name(full_name, p), part_ids,
                         part_bags)))
        by_slot = self._send(requests, lambda shard, items: [
            self.shards[shard].lookup_sparse(name, part_ids, part_bags)[1]
            for name, part_ids, part_bags in items])
        width = layout.row_bytes // 4
        out = np.zeros((len(bags.offsets), width), np.float32)
        for p, (_, _, whole_bags) in enumerate(parts):
            if not whole_bags:
                continue
            got = np.frombuffer(by_slot[p], np.float32)
            if got.size != len(whole_bags) * width:
                raise errors.ParameterServerError(
                    "%s answered %d floats for %d bags of %d." %
                    (placement.partition_name(full_name, p), got.size,
                     len(whole_bags), width), grpc.StatusCode.DATA_LOSS)
            out[whole_bags] += got.reshape(len(whole_bags), width)
        return out.data

    def push_rows(self, full_name, kind, ids, rows, optimizer, strategy,
                  base_version=None, max_staleness=0, push_id="", bags=None):
        """Writes rows of `full_name` (see Connection.push_rows); a
        partitioned variable's on each of its parts, each part its own
        all-or-nothing push (parts without rows only read their version),
        its version the sum of theirs. `push_id` (empty: none) names the
        push; part p's is "<push_id>/<p>", so a retry of the whole push
        applies only the parts that were not applied."""
        layout = self._cached_layout(full_name)
        if layout is None:
            if self._is_spread(full_name):
                return self._push_spread(full_name, kind, ids, rows,
                                         optimizer, base_version, push_id,
                                         bags)
            shard = self.shards[self.shard_of(full_name)]
            try:
                return shard.push_rows(full_name, kind, ids, rows, optimizer,
                                       base_version, max_staleness, push_id,
                                       bags)
            except errors.ParameterServerError as error:
                if not self._learned_spread(full_name, error):
                    raise
                return self._push_spread(full_name, kind, ids, rows,
                                         optimizer, base_version, push_id,
                                         bags)
            except errors.VariableError as error:
                # Nothing was applied: maybe partitioned by another worker.
                if (error.code != grpc.StatusCode.NOT_FOUND or
                        self.layout(full_name) is None):
                    raise
            layout = self._cached_layout(full_name)
        if base_version is not None:
            raise ValueError("Bounded staleness needs an unpartitioned "
                             "variable; %s is partitioned." % full_name)
        if bags is not None:
            parts = self._split_bag_gradient(layout, ids, rows, bags,
                                             strategy, full_name)
        else:
            parts = [(i, r, None) for i, r, _ in rows_lib.split_for_parts(
                layout, ids, rows, strategy, full_name)]
        requests = {}
        for p, (part_ids, part_rows, part_bags) in enumerate(parts):
            shard = placement.shard_for_partition(full_name, p,
                                                  len(self.shards))
            requests.setdefault(shard, []).append(
                (p, (p, placement.partition_name(full_name, p), part_ids,
                     part_rows, part_bags)))
        by_slot = self._send(requests, lambda shard, items: [
            self.shards[shard].push_rows(
                name, kind, part_ids, part_rows, optimizer,
                push_id=push_id and "%s/%d" % (push_id, p), bags=part_bags)
            for p, name, part_ids, part_rows, part_bags in items])
        return self._whole_info(full_name, layout,
                                [by_slot[p] for p in range(len(layout.rows))])


    @staticmethod
    def _split_bag_gradient(layout, ids, rows, bags, strategy, full_name):
        """Per part: (row ids, its bags' gradient rows, its pb.Bags or None
        when it holds no id: pushed nothing, which reads its version)."""
        parts = rows_lib.split_bags(layout, ids, bags, strategy, full_name)
        grad = np.frombuffer(rows, np.uint8).reshape(len(bags.offsets),
                                                     layout.row_bytes)
        return [(part_ids, np.ascontiguousarray(grad[whole_bags]).data,
                 part_bags if whole_bags else None)
                for part_ids, part_bags, whole_bags in parts]

    # ---- Dynamic tables (dynamic_embedding.py) ----

    def get_table(self, request):
        """GetTable: one server's table whole; over several, a slice on
        each, spread by id as the C++ client spreads it. The slice on the
        name's own server is made first and answers get_variable's reuse
        question for the whole table; the others are made or reused with
        its seed. Returns the whole table's GetTableResponse."""
        full_name = scopes.join_scope(request.scope, request.name)
        home = self.shard_of(full_name)
        count = len(self.shards)
        whole = count == 1
        if not whole:
            try:
                found = self.shards[home].call(
                    "GetTableStats", pb.TableStatsRequest(name=full_name))
                whole = found.spec.id_shard_count <= 1
            except (errors.ParameterServerError, errors.VariableError):
                whole = False
        if whole:
            one = pb.GetTableRequest()
            one.CopyFrom(request)
            one.spec.id_shard_index = 0
            one.spec.id_shard_count = 1
            return self.shards[home].call("GetTable", one)
        home_slice = self.shards[home].call(
            "GetTable", _slice_request(request, home, count))

        def other(shard):
            sliced = _slice_request(request, shard, count)
            sliced.reuse = pb.AUTO_REUSE
            sliced.spec.initializer.seed = home_slice.spec.initializer.seed
            return self.shards[shard].call("GetTable", sliced)

        slices = self._each({s: (lambda s=s: other(s))
                             for s in range(count) if s != home})
        slices[home] = home_slice
        with self._lock:
            self._spread_tables.add(full_name)
        return _merge_slices([slices[s] for s in range(count)], home)

    def table_stats(self, full_name):
        """The table's TableStats, summed over its slices."""
        home = self.shard_of(full_name)
        home_slice = self.shards[home].call(
            "GetTableStats", pb.TableStatsRequest(name=full_name))
        count = home_slice.spec.id_shard_count
        if count <= 1:
            return home_slice.stats
        if count != len(self.shards):
            raise errors.ParameterServerError(
                "Dynamic table %s is spread over %d servers, but this client "
                "lists %d." % (full_name, count, len(self.shards)),
                grpc.StatusCode.FAILED_PRECONDITION)
        slices = self._each({s: (lambda s=s: self.shards[s].call(
            "GetTableStats", pb.TableStatsRequest(name=full_name)))
                             for s in range(len(self.shards)) if s != home})
        slices[home] = home_slice
        return _merge_slices([slices[s] for s in range(len(self.shards))],
                             home).stats

    def _is_spread(self, full_name):
        with self._lock:
            return full_name in self._spread_tables

    def _learned_spread(self, full_name, error):
        """After `error` from the name's own server: whether the name is a
        table spread over these servers (then remembered)."""
        if (error.code != grpc.StatusCode.FAILED_PRECONDITION or
                len(self.shards) == 1):
            return False
        try:
            found = self.shards[self.shard_of(full_name)].call(
                "GetTableStats", pb.TableStatsRequest(name=full_name))
        except (errors.ParameterServerError, errors.VariableError):
            return False
        if found.spec.id_shard_count != len(self.shards):
            return False
        with self._lock:
            self._spread_tables.add(full_name)
        return True

    def _split_by_id(self, full_name, ids):
        from paramserver import dynamic_embedding  # pylint: disable=import-outside-toplevel
        owner = dynamic_embedding.id_shard_of(ids, len(self.shards))
        asked = sorted(set(owner.tolist())) or [self.shard_of(full_name)]
        return owner, asked

    def _gather_spread(self, full_name, ids):
        owner, asked = self._split_by_id(full_name, ids)
        got = self._each({s: (lambda s=s: self.shards[s].gather_rows(
            full_name, ids[owner == s])[1]) for s in asked})
        row_bytes = None
        for s in asked:
            wanted = int(np.count_nonzero(owner == s))
            if wanted:
                row_bytes = len(got[s]) // wanted
        out = np.empty((len(ids), row_bytes or 0), np.uint8)
        for s in asked:
            where = np.flatnonzero(owner == s)
            if len(where) == 0:
                continue
            if len(got[s]) != len(where) * row_bytes:
                raise errors.ParameterServerError(
                    "Shard %d's slice of %s answered %d bytes for %d rows." %
                    (s, full_name, len(got[s]), len(where)),
                    grpc.StatusCode.DATA_LOSS)
            out[where] = np.frombuffer(got[s], np.uint8).reshape(
                len(where), row_bytes)
        return out.data

    def _push_spread(self, full_name, kind, ids, rows, optimizer,
                     base_version, push_id, bags=None):
        if base_version is not None or push_id or bags is not None:
            raise ValueError("Dynamic table %s takes no bags, base versions "
                             "or push ids yet." % full_name)
        owner, asked = self._split_by_id(full_name, ids)
        view = np.frombuffer(rows, np.uint8).reshape(len(ids), -1) \
            if len(ids) else np.zeros((0, 0), np.uint8)
        infos = self._each({s: (lambda s=s: self.shards[s].push_rows(
            full_name, kind, ids[owner == s],
            np.ascontiguousarray(view[owner == s]).data, optimizer))
                            for s in asked})
        info = pb.VariableInfo()
        info.CopyFrom(infos[asked[0]])
        info.version = sum(infos[s].version for s in asked)
        if info.shape.dims:
            info.shape.dims[0] *= len(self.shards)
        return info


def _slice_request(request, shard, count):
    """The request for the slice of the table on `shard` of `count`: its
    ids, and its share of the capacity, rounded up."""
    sliced = pb.GetTableRequest()
    sliced.CopyFrom(request)
    if sliced.spec.capacity > 0:
        sliced.spec.capacity = (sliced.spec.capacity + count - 1) // count
    sliced.spec.id_shard_index = shard
    sliced.spec.id_shard_count = count
    return sliced


def _merge_slices(slices, home):
    """The whole table: the home slice's spec and name, the capacities and
    counters added up (steps: the most any slice counted)."""
    whole = pb.GetTableResponse()
    whole.CopyFrom(slices[home])
    whole.spec.capacity = sum(s.spec.capacity for s in slices)
    whole.spec.id_shard_index = 0
    whole.stats.Clear()
    for s in slices:
        for field in ("stored_rows", "admitted", "evicted_idle",
                      "evicted_capacity", "lookup_ids", "lookup_hits",
                      "dropped_gradient_rows", "bytes"):
            setattr(whole.stats, field,
                    getattr(whole.stats, field) + getattr(s.stats, field))
        whole.stats.steps = max(whole.stats.steps, s.stats.steps)
    return whole


def _check_reuse(wanted, found, full_name):
    if wanted.shape != found.shape:
        raise errors.VariableError(
            "Trying to reuse partitioned variable %s, but specified shape %s "
            "and found shape %s." % (full_name, _shape_string(wanted.shape),
                                     _shape_string(found.shape)),
            grpc.StatusCode.INVALID_ARGUMENT)
    if wanted.dtype != found.dtype:
        raise errors.VariableError(
            "Trying to reuse partitioned variable %s, but specified dtype %s "
            "and found dtype %s." % (full_name, wanted.dtype.name,
                                     found.dtype.name),
            grpc.StatusCode.INVALID_ARGUMENT)
    if len(wanted.rows) != len(found.rows):
        raise errors.VariableError(
            "Trying to reuse partitioned variable %s, but specified "
            "partitions %s and found partitions %s." %
            (full_name, wanted.partitions_string(), found.partitions_string()),
            grpc.StatusCode.INVALID_ARGUMENT)


def _part_initializer(proto, layout, part, first_row, rows, full_name):
    """The C++ client's PartInitializer: fans from the whole shape, seed +
    part, a constant list's share of the whole variable's fill."""
    del proto.full_shape.dims[:]
    proto.full_shape.dims.extend(layout.shape)
    if proto.HasField("seed"):
        proto.seed = (proto.seed + part + (1 << 63)) % (1 << 64) - (1 << 63)
    if proto.kind != pb.Initializer.CONSTANT:
        return
    count = len(proto.values)
    if count <= 1:
        return
    elements = int(np.prod(layout.shape, dtype=np.int64))
    if proto.HasField("value_shape") and \
            tuple(proto.value_shape.dims) != layout.shape:
        raise ValueError(
            "The constant initializer of partitioned variable %s has shape "
            "%s; the variable has %s." % (
                full_name, _shape_string(proto.value_shape.dims),
                _shape_string(layout.shape)))
    if elements > 0 and count > elements:
        raise ValueError(
            "Too many elements provided. Needed at most %d, but received %d "
            "(constant initializer of variable %s)." % (elements, count,
                                                        full_name))
    row_elements = elements // max(1, layout.shape[0])
    begin = min(first_row * row_elements, count - 1)
    end = min((first_row + rows) * row_elements, count)
    values = list(proto.values)[begin:max(begin + 1, end)]
    ints = list(proto.int64_values)[begin:max(begin + 1, end)] \
        if proto.int64_values else []
    del proto.values[:]
    proto.values.extend(values)
    del proto.int64_values[:]
    proto.int64_values.extend(ints)
    if proto.HasField("value_shape"):
        del proto.value_shape.dims[:]
        proto.value_shape.dims.extend([rows] + list(layout.shape[1:]))
