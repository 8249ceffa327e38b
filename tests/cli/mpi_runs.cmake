# The attrib tool under mpirun (a build with ATTRIB_WITH_MPI): explain and data on 2 ranks and on 3
# oversubscribed ranks write the same bytes as one process of the same binary, with shard counts
# that do not divide evenly; a rank that throws, a rank without its input file and ranks started
# with different arguments stop every rank with a message naming the rank, in bounded time.
# Run as: cmake -DATTRIB=<attrib> -DMPIEXEC=<mpiexec> -DDATA=<repo data dir> -DWORK=<scratch dir> -P mpi_runs.cmake
# (OpenMPI as root needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; the ctest
# entry sets them.)
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake") # run_ok, same_bytes, run_fails_on_ranks
start_mpi_script() # a fresh ${WORK}, limit, np2, np3
set(wine "${DATA}/wine/wine_data.csv")
run_ok("${ATTRIB}" train --data "${wine}" --model-type mlp --hidden 8 --epochs 30 --seed 1 --out "${WORK}/mlp.json" --quiet)

# explain: 41 rows are 20 + 21 on two ranks, 13 + 14 + 14 on three. A sampling method (seeded),
# an exact one, and a gradient method; threads inside the ranks must not change a bit either.
foreach(case "kernel-shap;--samples;96" "exact-shapley" "integrated-gradients;--steps;8")
  list(GET case 0 method)
  set(options ${case})
  list(REMOVE_AT options 0)
  same_on_ranks(${method} "--out;@/out.csv;--svg;@/out.svg"
                explain --model "${WORK}/mlp.json" --data "${wine}" --data-format sklearn --rows 0-40 --method ${method}
                ${options} --seed 3 --quiet)
endforeach()
# The interaction methods and guided backpropagation spread their rows the same way (their
# results travel as bytes); l2x trains its explainer on rank 0. Exact pairs over 7 groups, sampled
# pairs with standard errors, terms up to order 3, Integrated Hessians, and a ReLU model's guided
# gradients.
run_ok("${ATTRIB}" train --data "${wine}" --model-type mlp --hidden 8 --activation relu --epochs 30 --seed 1
       --out "${WORK}/relu.json" --quiet)
foreach(case "shapley-taylor;--groups;0,0,1,1,2,2,3,3,4,4,5,5,6" "msr-banzhaf-interactions;--samples;300"
             "shapley-taylor;--order;3;--groups;0,0,1,1,2,2,3,3,4,4,5,5,6" "integrated-hessians;--steps;4"
             "guided-backprop;--model-file;relu.json" "l2x;--epochs;2")
  list(GET case 0 method)
  set(options ${case})
  list(REMOVE_AT options 0)
  set(model "${WORK}/mlp.json")
  list(FIND options "--model-file" at)
  if(at GREATER -1)
    set(model "${WORK}/relu.json")
    list(REMOVE_ITEM options "--model-file" "relu.json")
  endif()
  string(REPLACE ";" "_" name "${case}")
  string(REPLACE "," "" name "${name}")
  same_on_ranks("${name}" "--out;@/out.csv"
                explain --model "${model}" --data "${wine}" --data-format sklearn --rows 0-40 --method ${method}
                ${options} --seed 3 --quiet)
endforeach()

# Only rank 0 writes to standard output: the table once, as one process prints it.
run_ok("${ATTRIB}" explain --model "${WORK}/mlp.json" --data "${wine}" --data-format sklearn --rows 5-20
       --method occlusion --quiet)
set(single_table "${last_out}")
run_ok(${np3} "${ATTRIB}" explain --model "${WORK}/mlp.json" --data "${wine}" --data-format sklearn --rows 5-20
       --method occlusion --quiet)
if(NOT last_out STREQUAL single_table)
  message(FATAL_ERROR "3 ranks printed another table than one process:\n${single_table}\n---\n${last_out}")
endif()

# data: 106 training points are 7 shards of 15-16 points, 3 + 4 on two ranks and 2 + 2 + 3 on
# three. Influence, TracIn, Grad-Dot, Grad-Cos and TRAK (its projected features; 100 dimensions,
# two projection blocks), RelatIF, LOO's retrainings and Newton-LOO's steps are sharded, and so
# is the explicit Hessian of influence (the same 7 shards, added on rank 0). KNN-Shapley, FastIF
# and SGD-influence shard the test rows: 40 rows are 3 shards of 13-14, 1 + 2 on two ranks and
# one each on three; SOURCE runs on rank 0 alone. The data games spread
# their retrainings: TMC Shapley's budget of 577 retrainings runs waves of 5 or fewer truncated
# permutations (1 + 2 + 2 on three ranks), each wave sized by what the last one spent on all
# ranks; Data Banzhaf's 299 sampled coalitions are 149 + 150 and 99 + 100 + 100. Threads inside
# the ranks must not change a bit either.
run_ok("${ATTRIB}" data split --data "${wine}" --train-out "${WORK}/train.csv" --test-out "${WORK}/test.csv"
       --test-size 0.4 --seed 2)
file(STRINGS "${WORK}/train.csv" train_lines)
list(LENGTH train_lines train_line_count)
if(NOT train_line_count EQUAL 107) # a header line (n,d,class names) and 106 points
  message(FATAL_ERROR "the split gave ${train_line_count} lines in train.csv; the shard counts above assume 107")
endif()
foreach(case "influence" "influence;--solver;cg" "tracin" "grad-dot" "grad-cos" "relatif;--relative;loss" "loo"
             "newton-loo" "knn-shapley;--rows;0-39" "fastif;--k;20;--rows;0-39" "sgd-influence;--rows;0-39" "source"
             "trak;--projection-dim;100" "tmc-shapley;--budget;577" "data-banzhaf;--budget;301;--utility;accuracy")
  list(GET case 0 method)
  set(options ${case})
  list(REMOVE_AT options 0)
  string(REPLACE ";" "_" name "${case}")
  set(rows --rows 0-6)
  list(FIND options "--rows" at)
  if(at GREATER -1)
    set(rows "")
  endif()
  same_on_ranks("${name}" "--out;@/out.csv"
                data --train "${WORK}/train.csv" --test "${WORK}/test.csv" ${rows} --method ${method} ${options} --quiet)
endforeach()

# A TMC budget of one permutation has no standard errors to write: named, before any retraining.
run_fails_on_ranks("covers fewer than two permutations of the 106 training points.*give at least 212" 1 "${ATTRIB}" data
          --train "${WORK}/train.csv" --test "${WORK}/test.csv" --rows 0-6 --method tmc-shapley --budget 107)

# A rank that throws: the last of 11 rows overflows the model, and that row is rank 1's. Both
# ranks stop with rank 1's message.
file(STRINGS "${wine}" wine_lines)
set(rows "")
foreach(i RANGE 1 10)
  list(GET wine_lines ${i} line)
  string(REGEX REPLACE ",[^,]*$" "" line "${line}") # drop the label
  string(APPEND rows "${line}\n")
endforeach()
string(REPEAT "1e308," 12 huge)
file(WRITE "${WORK}/overflow.csv" "${rows}${huge}1e308\n")
run_fails_on_ranks("rank 1 of 2: instance 10: model output 0 is not finite" 2
          ${np2} "${ATTRIB}" explain --model "${WORK}/mlp.json" --data "${WORK}/overflow.csv" --header no
          --method kernel-shap --samples 64 --quiet)

# A rank without its input file (rank 1 starts in a folder without it): a named error on every rank.
file(MAKE_DIRECTORY "${WORK}/rank0" "${WORK}/rank1" "${WORK}/rank2")
file(COPY "${WORK}/overflow.csv" DESTINATION "${WORK}/rank0")
file(COPY "${WORK}/overflow.csv" DESTINATION "${WORK}/rank2")
run_fails_on_ranks("rank 1 of 3: overflow.csv: cannot open" 3
          ${np3} sh -c "cd '${WORK}'/rank$OMPI_COMM_WORLD_RANK && exec '${ATTRIB}' explain --model ../mlp.json --data overflow.csv --header no --rows 0-9 --method occlusion --quiet")

# Ranks started with different arguments would compute different problems.
run_fails_on_ranks("rank 1 of 2 started with other arguments" 2
          ${np2} sh -c "exec '${ATTRIB}' explain --model '${WORK}/mlp.json' --data '${wine}' --data-format sklearn --rows 0-3 --method occlusion --seed $OMPI_COMM_WORLD_RANK --quiet")

# Commands that are not distributed refuse to run once per rank; data split writes files.
run_fails_on_ranks("runs on one process only" 2 ${np2} "${ATTRIB}" train --data "${wine}" --out "${WORK}/never.json")
run_fails_on_ranks("'data split' runs on one process" 2
          ${np2} "${ATTRIB}" data split --data "${wine}" --train-out "${WORK}/a.csv" --test-out "${WORK}/b.csv")
