"""The question's Julia code, line by line where a defect sits, and the change that
fixes it, as a diff of the question's own code (Flux 0.12/0.13-era API, as
posted). These diffs are not executed here: the evidence for each is the
PyTorch port with the same change switched on (:mod:`seqtune.postmortem`).
"""

from __future__ import annotations

#: defect -> (where, the question's lines it concerns, the unified diff that fixes it)
FIXES: dict[str, tuple[str, str]] = {
    "batching": (
        "batchSequences(x,batchSize) overwrites both arguments on its first two lines, so it "
        "always returns the unshuffled training inputs in batches of 3, and "
        "`ytraine = batchSequences(ytraine,batchSize)` makes the targets the inputs: myloss "
        "then trains the net to copy x[i] instead of predicting x[i+1]",
        """\
 function batchSequences(x,batchSize)
-    x = copy(xtrain)
-    batchSize = 3
     nRecords  = length(x)
     nItems    = length(x[1])""",
    ),
    "warmup": (
        "predictSequence(m,seeds,seqLength) calls Flux.reset!(m) and then feeds only "
        "seq[nSeeds] (seed 5) into the model, so seeds 1-4 -- seed 4 sets the drift -- never "
        "reach its state; myloss warms the state up on them, prediction does not",
        """\
 function predictSequence(m,seeds,seqLength)
     seq = Vector{Vector{Float32}}(undef,seqLength+length(seeds)-1)
     Flux.reset!(m) # Reset the state (not the weigtht!)
     [seq[i] = [convert(Float32, seeds[i])] for i in 1:nSeeds]
+    [m(seq[i]) for i in 1:nSeeds-1]  # warm-up on seeds 1..4, as in myloss
     [seq[i] = m(seq[i-1]) for i in nSeeds+1:nSeeds+seqLength-1]
     [s[1] for s in seq]
 end""",
    ),
    "metric": (
        "predictSequence allocates seqLength+length(seeds)-1 slots, one short, so only 4 "
        "of the 5 continuation values are predicted; the error lines slice the truth "
        "with end-1 to match and sum squares over steps instead of averaging",
        "\n".join([
            "-    seq = Vector{Vector{Float32}}(undef,seqLength+length(seeds)-1)",
            "+    seq = Vector{Vector{Float32}}(undef,seqLength+length(seeds))",
            " ...",
            "-    [seq[i] = m(seq[i-1]) for i in nSeeds+1:nSeeds+seqLength-1]",
            "+    [seq[i] = m(seq[i-1]) for i in nSeeds+1:nSeeds+seqLength]",
            " ...",
            "-    trainmse =  sum(norm(ŷtrain[i][nSeeds+1:end] - ytrain[i][nSeeds+1:end-1])^2 "
            "for i in 1:nTrains)/nTrains",
            "-    valmse   =  sum(norm(ŷval[i][nSeeds+1:end] - yval[i][nSeeds+1:end-1])^2 "
            "for i in 1:nVal)/nVal",
            "+    trainmse =  sum(norm(ŷtrain[i][nSeeds+1:end] - ytrain[i][nSeeds+1:end])^2 "
            "for i in 1:nTrains)/(nTrains*seqLength)",
            "+    valmse   =  sum(norm(ŷval[i][nSeeds+1:end] - yval[i][nSeeds+1:end])^2 "
            "for i in 1:nVal)/(nVal*seqLength)"]),
    ),
}

#: the ytrain/yval reassignment: what it does in each Julia context, and its fix
REASSIGNMENT = (
    "The training loop also assigns `ytrain = [makeSequence(...)]` and `yval = ...` "
    "inside `for e in 1:epochs` (only trainMSE and valMSE are declared global). Run as a "
    "script (`julia file.jl`, `include`) in Julia >= 1.5 the loop's soft scope makes "
    "`ytrain` a new local, so `ytraine = ytrain[ids]` raises UndefVarError in epoch 1 "
    "(after an ambiguity warning); in the REPL, notebooks and editor cells it rebinds the "
    "global: from epoch 2 on `ytrain` holds the whole 10-value sequences instead of the "
    "next values, and myloss's `zip(x[nSeeds:end-1], y[nSeeds:end])` pairs x[i] with "
    "x[i] -- the copy task again. With the batching defect on this is masked (the helper "
    "ignores the targets it is given); it bites a user who fixes only the helper. Its "
    "effect from epoch 2 is the batching defect's (targets = inputs), which the port "
    "measures, so it is not a separate switch here. Fix: give the loop's truths their "
    "own names.")
REASSIGNMENT_DIFF = """\
-    ytrain  = [makeSequence(x0[i],seqLength) for i in  1:nTrains]
-    yval    = [makeSequence(x0[i],seqLength) for i in  (nTrains+1):nTot]
+    trueTrain = [makeSequence(x0[i],seqLength) for i in  1:nTrains]
+    trueVal   = [makeSequence(x0[i],seqLength) for i in  (nTrains+1):nTot]
     # ... and use trueTrain / trueVal in the two error lines"""

#: the factorial's knobs as changes of the question's code
KNOB_DIFFS: dict[str, str] = {
    "width": "-m    = Chain(Dense(1,3),LSTM(3, 3), Dense(3, 5,relu),Dense(5,1))\n"
             "+m    = Chain(Dense(1,16),LSTM(16, 16), Dense(16, 16,relu),Dense(16,1))",
    "lr": "-opt = Flux.ADAM()\n+opt = Flux.ADAM(1e-2)",
    "epochs": "-epochs    = 20\n+epochs    = 60",
    "free-running": "(myloss feeds the model's own output back after seed 5, as "
                    "predictSequence does, instead of the true x[i])",
}
