# attrib llm under mpirun (a build with ATTRIB_WITH_MPI): llm patch and the tracing studies
# (knowledge, transfer) on 2 ranks and on 3 oversubscribed ranks write the same bytes as one
# process of the same binary, with shard counts that do not divide evenly and a study map's pairs
# split between ranks; llm noise-trace spreads its noise draws; llm components' coalition methods
# spread their coalitions over the ranks, its other methods and the other studies run on rank 0
# alone; a missing model file stops every rank with a message naming the rank, in bounded time. The model is the stories260K checkpoint of data/models.
# Run as: cmake -DATTRIB=<attrib> -DMPIEXEC=<mpiexec> -DDATA=<repo data dir> -DWORK=<scratch dir> -P mpi_llm_runs.cmake
# (OpenMPI as root needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; the ctest
# entry sets them.)
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake") # run_ok, same_bytes, run_fails_on_ranks
start_mpi_script() # a fresh ${WORK}, limit, np2, np3
set(stories "${DATA}/models/stories260K")
set(gguf "${stories}/stories260K.gguf")
set(instruct "${DATA}/models/stories260K-instruct")

# llm patch: stories260K has 5 layers; the 14-token prompts make 70 cells (35 + 35 on two ranks,
# 23 + 23 + 24 on three), --layers 1-3 42, and the 9-token llama2.c prompts 45. Both methods
# (attribution patching runs on rank 0), CSV, JSON and the heatmaps.
set(clean "Lily saw a big dog in the park. The")
set(corrupted "Lily saw a big cat in the park. The")
same_on_ranks(patch_both "--out;@/patch.csv;--svg;@/patch.svg"
              llm patch --model "${gguf}" --clean "${clean}" --corrupted "${corrupted}" --point resid_post --method both
              --quiet)
same_on_ranks(patch_layers "--out;@/patch.json"
              llm patch --model "${gguf}" --clean "${clean}" --corrupted "${corrupted}" --layers 1-3 --format json --quiet)
same_on_ranks(patch_bin "--out;@/patch.csv;--svg;@/patch.svg"
              llm patch --model "${stories}/stories260K.bin" --tokenizer "${stories}/tok512.bin"
              --clean "Once upon a time there was a dog" --corrupted "Once upon a time there was a cat" --contrast none
              --quiet)
# llm noise-trace: 7 noise draws are 3 + 4 on two ranks and 2 + 2 + 3 on three; rank 0 adds
# them in sample order. CSV (with standard errors) and the heatmap.
same_on_ranks(noise_trace "--out;@/trace.csv;--svg;@/trace.svg"
              llm noise-trace --model "${gguf}" --prompt "${clean}" --subject-positions 3-5 --samples 7 --seed 4
              --quiet)
# Only rank 0 writes to standard output: the table once, as one process prints it.
run_ok("${ATTRIB}" llm patch --model "${gguf}" --clean "${clean}" --corrupted "${corrupted}" --layers 4 --quiet)
set(single_table "${last_out}")
run_ok(${np3} "${ATTRIB}" llm patch --model "${gguf}" --clean "${clean}" --corrupted "${corrupted}" --layers 4 --quiet)
if(NOT last_out STREQUAL single_table)
  message(FATAL_ERROR "3 ranks printed another table than one process:\n${single_table}\n---\n${last_out}")
endif()

# llm study knowledge: three models (the instruct model twice, as post and sft) are 3 maps of 4
# pairs, 12 (map, pair) items: 6 + 6 on two ranks (map 1's pairs split between them) and 4 + 4 + 4
# on three; transfer is 4 maps per post-trained model, 16 items: 8 + 8 and 5 + 5 + 6 (maps 1 and 2
# split). Every table and heatmap is compared.
set(models --base "${gguf}" --post "${instruct}" --tokenizer "${stories}/tok512.bin" --post-name instruct
           --dataset cities --max-pairs 4 --quiet)
same_on_ranks(knowledge "--out;@" llm study knowledge ${models} --sft "${instruct}")
same_on_ranks(transfer "--out;@" llm study transfer ${models})

# llm components: the coalition methods spread each batch of coalitions over the ranks
# (mpi::distributed_game) and write the single process's bytes: exact Shapley over the 10 blocks
# (1024 coalitions in one batch: 512 + 512, 341 + 341 + 342), KernelSHAP over the 40 heads and over
# the 66 block edges.
set(pair --clean "${clean}" --corrupted "${corrupted}")
same_on_ranks(components_exact "--out;@/components.csv" llm components --model "${gguf}" ${pair} --players blocks
              --method exact-shapley --quiet)
same_on_ranks(components_kernel "--out;@/components.json" llm components --model "${gguf}" ${pair} --method kernel-shap
              --samples 300 --seed 4 --format json --quiet)
same_on_ranks(components_edges "--out;@/edges.csv" llm components --model "${gguf}" ${pair} --players edges
              --method kernel-shap --samples 400 --seed 2 --quiet)
# Attribution patching runs on rank 0 alone: rank 1, started in a folder without the model, never
# opens it, and the table is the single process's (a run on every rank would fail on rank 1).
file(MAKE_DIRECTORY "${WORK}/rank0" "${WORK}/rank1")
file(COPY "${gguf}" DESTINATION "${WORK}/rank0")
set(components llm components --model stories260K.gguf ${pair} --players blocks --quiet)
run_ok(sh -c "cd '${WORK}/rank0' && exec \"$0\" \"$@\" --out ../components_1.csv" "${ATTRIB}" ${components})
run_ok(${np2} sh -c "cd '${WORK}'/rank$OMPI_COMM_WORLD_RANK && exec \"$0\" \"$@\" --out ../components_2.csv"
       "${ATTRIB}" ${components})
same_bytes("${WORK}/components_1.csv" "${WORK}/components_2.csv")
# So do the studies that are not spread (entropy here): rank 1 has no base model either.
set(entropy llm study entropy --base stories260K.gguf --post "${instruct}" --quiet)
run_ok(sh -c "cd '${WORK}/rank0' && exec \"$0\" \"$@\" --out ../entropy_1" "${ATTRIB}" ${entropy})
run_ok(${np2} sh -c "cd '${WORK}'/rank$OMPI_COMM_WORLD_RANK && exec \"$0\" \"$@\" --out ../entropy_2" "${ATTRIB}" ${entropy})
foreach(file entropy.md entropy.csv entropy.json)
  same_bytes("${WORK}/entropy_1/${file}" "${WORK}/entropy_2/${file}")
endforeach()

# A missing model file on the command line: every rank reports it and the job ends.
run_fails_on_ranks("rank 0 of 3: --model file '[^']*nowhere.gguf' does not exist" 3
          ${np3} "${ATTRIB}" llm patch --model "${WORK}/nowhere.gguf" --clean "${clean}" --corrupted "${corrupted}")
# A rank without its model (rank 1 starts in the folder without it) stops every rank at the
# tracing, which needs the models on every rank.
run_fails_on_ranks("rank 1 of 2: --base file 'stories260K.gguf' does not exist" 2
          ${np2} sh -c "cd '${WORK}'/rank$OMPI_COMM_WORLD_RANK && exec \"$0\" \"$@\"" "${ATTRIB}"
          llm study knowledge --base stories260K.gguf --post "${instruct}" --tokenizer "${stories}/tok512.bin"
          --dataset cities --max-pairs 2 --quiet --out "${WORK}/never")
# The llm commands that are not distributed refuse to run once per rank.
run_fails_on_ranks("'llm inspect' runs on one process" 2 ${np2} "${ATTRIB}" llm inspect --model "${gguf}")
