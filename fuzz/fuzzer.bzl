"""One libFuzzer target plus a regression test that replays its corpus."""

def cc_fuzzer(name, srcs, deps):
    """Defines `name` (libFuzzer, --config=fuzz only) and `name`_corpus_test.

    The fuzzer links libFuzzer's main and needs clang, so it is "manual".
    The corpus test links the same harness with a plain main that runs every
    input of corpus/<name>/ once: it builds with any compiler and runs in
    the normal suite (and under each sanitizer config), so every input that
    once found a bug keeps being checked.
    """
    corpus = name.replace("_fuzzer", "")
    native.cc_binary(
        name = name,
        srcs = srcs,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        deps = deps,
    )
    native.cc_test(
        name = name + "_corpus_test",
        srcs = srcs,
        args = ["fuzz/corpus/" + corpus],
        data = native.glob(["corpus/%s/*" % corpus]),
        deps = deps + [":corpus_test_main"],
    )
