# End-to-end check of the attrib tool: train a model, explain rows with a perturbation and a
# gradient method, and confirm that bad input ends with a message naming the problem.
# Run as: cmake -DATTRIB=<attrib executable> -DDATA=<repo data dir> -DWORK=<scratch dir> -P cli_smoke.cmake
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake") # run_ok, same_bytes

function(run_fails expected)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "command should have failed: ${ARGN}")
  endif()
  if(NOT err MATCHES "${expected}")
    message(FATAL_ERROR "expected an error matching '${expected}' from ${ARGN}, got:\n${err}")
  endif()
endfunction()

# Checks that an SVG file holds the expected text (regular expressions) and, where rsvg-convert is
# installed (bash scripts/deps.sh installs it), that it renders.
find_program(rsvg_convert rsvg-convert)
function(check_svg svg_file)
  file(READ "${svg_file}" svg)
  foreach(expected "^<svg xmlns=\"http://www.w3.org/2000/svg\"" "</svg>\n$" ${ARGN})
    if(NOT svg MATCHES "${expected}")
      message(FATAL_ERROR "${svg_file} lacks '${expected}'")
    endif()
  endforeach()
  if(rsvg_convert)
    run_ok("${rsvg_convert}" "${svg_file}" -o "${svg_file}.png")
    file(SIZE "${svg_file}.png" png_size)
    if(png_size LESS 1000)
      message(FATAL_ERROR "rsvg-convert rendered ${svg_file} to only ${png_size} bytes")
    endif()
  else()
    message(STATUS "rsvg-convert not found: ${svg_file} checked as text only")
  endif()
endfunction()

run_ok("${ATTRIB}" --help)
if(NOT last_out MATCHES "explain" OR NOT last_out MATCHES "train")
  message(FATAL_ERROR "attrib --help does not list the commands:\n${last_out}")
endif()
run_ok("${ATTRIB}" explain --help)
foreach(option model data baseline method samples seed threads output out)
  if(NOT last_out MATCHES "--${option}")
    message(FATAL_ERROR "attrib explain --help does not document --${option}")
  endif()
endforeach()

set(wine "${DATA}/wine/wine_data.csv")
run_ok("${ATTRIB}" train --data "${wine}" --model-type mlp --hidden 8 --epochs 30 --seed 1
       --out "${WORK}/wine_mlp.json" --weights-file wine_mlp.safetensors)
if(NOT last_err MATCHES "training accuracy")
  message(FATAL_ERROR "attrib train printed no accuracy:\n${last_err}")
endif()

run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn
       --rows 0-2 --method kernel-shap --samples 200 --seed 3 --output predicted
       --baseline "${wine}" --baseline-format sklearn --max-background 10 --quiet --out "${WORK}/shap.csv")
file(STRINGS "${WORK}/shap.csv" lines)
list(LENGTH lines count)
if(NOT count EQUAL 4)
  message(FATAL_ERROR "expected a header and 3 rows in shap.csv, got ${count} lines")
endif()
list(GET lines 0 header)
if(NOT header MATCHES "^row,output,base_value,prediction,x0,.*,se_x12,model_evaluations$")
  message(FATAL_ERROR "unexpected header: ${header}")
endif()

# The same seed gives the same file, whatever the thread count.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn
       --rows 0-2 --method kernel-shap --samples 200 --seed 3 --output predicted --threads 2
       --baseline "${wine}" --baseline-format sklearn --max-background 10 --quiet --out "${WORK}/shap2.csv")
same_bytes("${WORK}/shap.csv" "${WORK}/shap2.csv")

run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn
       --rows 5 --method integrated-gradients --steps 20)
if(NOT last_out MATCHES "^row,output,base_value,prediction")
  message(FATAL_ERROR "integrated-gradients output has no header:\n${last_out}")
endif()

# RISE (sampled, with standard errors) and the core value (exact over 2^13 coalitions).
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn
       --rows 5 --method rise --samples 2000 --keep-probability 0.3)
if(NOT last_out MATCHES "^row,output,base_value,prediction,x0,.*,se_x12,model_evaluations\n")
  message(FATAL_ERROR "rise output has no standard errors:\n${last_out}")
endif()
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn
       --rows 5 --method core-value)
if(NOT last_out MATCHES "^row,output,base_value,prediction,x0,.*,x12,model_evaluations\n5,0,")
  message(FATAL_ERROR "core-value output:\n${last_out}")
endif()
run_fails("unknown --method 'nope'" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}"
          --data-format sklearn --method nope)
file(WRITE "${WORK}/wide.csv" "1,2,3,4,5,6,7,8,9,10,11,12,13,14\n")
run_fails("--data has 14 columns but the model takes 13" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json"
          --data "${WORK}/wide.csv" --method occlusion)
run_fails("cannot open" "${ATTRIB}" explain --model "${WORK}/missing.json" --data "${wine}" --method occlusion)
run_fails("budget 3 is too small" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}"
          --data-format sklearn --rows 0 --method kernel-shap --samples 3)
run_fails("unknown option --bogus" "${ATTRIB}" explain --bogus 1)
# attrib graph: train a GIN on MUTAG, explain one molecule with the HN value and GNNExplainer.
set(mutag "${DATA}/graphs/MUTAG")
run_ok("${ATTRIB}" graph --help)
foreach(option dataset name model model-file graph method tau seed)
  if(NOT last_out MATCHES "--${option}")
    message(FATAL_ERROR "attrib graph --help does not document --${option}")
  endif()
endforeach()
run_ok("${ATTRIB}" graph train --dataset "${mutag}" --name MUTAG --model gin --hidden 8 --epochs 20 --seed 1
       --out "${WORK}/mutag_gin.txt")
if(NOT last_err MATCHES "training accuracy")
  message(FATAL_ERROR "attrib graph train printed no accuracy:\n${last_err}")
endif()
run_ok("${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG --model-file "${WORK}/mutag_gin.txt" --graph 1
       --method hn --threads 2)
string(REGEX MATCHALL "\n[0-9]+,[0-9]+,[-0-9.e]+" rows "${last_out}")
list(LENGTH rows count)
if(NOT last_out MATCHES "^node,label,score\n" OR NOT count EQUAL 13)
  message(FATAL_ERROR "expected a header and 13 node rows (MUTAG graph 1 has 13 atoms), got:\n${last_out}")
endif()
if(NOT last_err MATCHES "hn H-fidelity")
  message(FATAL_ERROR "attrib graph explain printed no H-fidelity:\n${last_err}")
endif()
run_ok("${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG --model-file "${WORK}/mutag_gin.txt" --graph 1
       --method gnnexplainer --epochs 50 --seed 2)
run_fails("--graph 188 is out of range" "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG
          --model-file "${WORK}/mutag_gin.txt" --graph 188 --method hn)
run_fails("tau must satisfy 0 < tau < 2/n" "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG
          --model-file "${WORK}/mutag_gin.txt" --graph 1 --method hn --tau 0.5)
# Grad-CAM: non-negative node scores (a ReLU of the weighted embeddings).
run_ok("${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG --model-file "${WORK}/mutag_gin.txt" --graph 1
       --method grad-cam)
if(NOT last_out MATCHES "^node,label,score\n" OR last_out MATCHES ",-[0-9]" OR NOT last_err MATCHES "grad-cam H-fidelity")
  message(FATAL_ERROR "attrib graph explain --method grad-cam:\n${last_out}\n${last_err}")
endif()
run_fails("layer 5 outside" "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG --model-file "${WORK}/mutag_gin.txt"
          --graph 1 --method grad-cam --layer 5)
run_fails("unknown --method 'nope'" "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG
          --model-file "${WORK}/mutag_gin.txt" --graph 1 --method nope)
file(WRITE "${WORK}/not_a_model.txt" "attrib-gin 1\n0 0 0 7\n")
run_fails("gin::load: malformed configuration line" "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG
          --model-file "${WORK}/not_a_model.txt" --graph 1 --method hn)

# Hostile and careless input (issue #17): each refused before any work, with a message that
# names the option or file, and no output file left behind or overwritten.
run_ok("${ATTRIB}" --version)
if(NOT last_out MATCHES "^attrib [0-9]+\\.[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "attrib --version printed:\n${last_out}")
endif()
foreach(command explain train data graph llm)
  run_ok("${ATTRIB}" ${command} -h)
  if(NOT last_out MATCHES "usage: attrib ${command}")
    message(FATAL_ERROR "attrib ${command} -h printed no usage:\n${last_out}")
  endif()
endforeach()
run_fails("--baseline-row must be between 0 and 9223372036854775807, got '18446744073709551615'"
          "${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn --rows 0
          --method occlusion --baseline-mode row --baseline-row 18446744073709551615)
run_fails("--rows lists 1 more than once" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json"
          --data "${wine}" --data-format sklearn --rows 0-3,1 --method occlusion)
run_fails("--threads must be between 0 and 1024" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json"
          --data "${wine}" --data-format sklearn --rows 0 --method occlusion --threads -1)
file(READ "${WORK}/wine_mlp.json" model_before)
run_fails("--out '.*wine_mlp.json' is the same file as --model" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json"
          --data "${wine}" --data-format sklearn --rows 0 --method occlusion --out "${WORK}/wine_mlp.json")
file(READ "${WORK}/wine_mlp.json" model_after)
if(NOT model_before STREQUAL model_after)
  message(FATAL_ERROR "a refused run changed its input")
endif()
run_fails("--weights-file 'w.json' \\(beside --out\\) is the --out file" "${ATTRIB}" train --data "${wine}"
          --model-type logistic_regression --out "${WORK}/w.json" --weights-file w.json)
if(EXISTS "${WORK}/w.json")
  message(FATAL_ERROR "a refused train left ${WORK}/w.json behind")
endif()
# A class label of 50,000,000 is not a request for 50 million classes.
file(WRITE "${WORK}/huge_label.csv" "a,b,y\n0.1,0.2,0\n0.3,0.1,50000000\n0.5,0.9,0\n0.2,0.7,50000000\n")
run_fails("the labels take 2 distinct values but the largest is 50000000" "${ATTRIB}" train
          --data "${WORK}/huge_label.csv" --data-format csv --model-type logistic_regression --out "${WORK}/h.json")
# Two short widths must not ask for a 10^14-parameter MLP.
run_fails("--hidden 9999999,9999999 makes an MLP of [0-9]+ parameters, more than the limit of 10\\^8"
          "${ATTRIB}" train --data "${wine}" --model-type mlp --hidden 9999999,9999999 --out "${WORK}/huge_mlp.json")
# A byte-order mark is not part of the first cell; a first line that mixes numbers and text is
# neither silently a header nor silently dropped.
string(ASCII 239 187 191 bom)
file(WRITE "${WORK}/bom.csv" "${bom}0.5,1,2\n1.5,3,4\n2.5,5,7\n")
run_ok("${ATTRIB}" train --data "${WORK}/bom.csv" --data-format csv --model-type linear_regression
       --out "${WORK}/bom.json")
if(NOT last_err MATCHES "3 rows x 3 columns, no header line")
  message(FATAL_ERROR "the BOM file was not read as 3 data rows:\n${last_err}")
endif()
file(WRITE "${WORK}/mixed.csv" "x,2,3\n1,2,3\n4,5,7\n")
run_fails("the first line mixes 2 numbers with 1 other cells" "${ATTRIB}" train --data "${WORK}/mixed.csv"
          --data-format csv --model-type linear_regression --out "${WORK}/mixed.json")
# A model file's weights stay inside its folder.
file(READ "${WORK}/wine_mlp.json" config)
string(REPLACE "wine_mlp.safetensors" "/dev/zero" config "${config}")
file(WRITE "${WORK}/dev_zero.json" "${config}")
run_fails("weights '/dev/zero' is an absolute path" "${ATTRIB}" explain --model "${WORK}/dev_zero.json"
          --data "${wine}" --data-format sklearn --rows 0 --method occlusion)
# A 34-byte graph model header that declares 10^15 parameters.
file(WRITE "${WORK}/bomb_gcn.txt" "attrib-gcn 1\n0 0 1 1000000 1000 2\n")
run_fails("declares 999001003000002 parameters, but only 1 bytes follow"
          "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG --model-file "${WORK}/bomb_gcn.txt" --graph 1 --method hn)

# attrib llm logits: the most likely next token after "Once upon a time" is the one llama2.c's
# greedy run chose (golden_greedy.json: "Once upon a time, there was ..."), its log-probability
# is below 0, and the JSON form parses with the same candidates.
set(stories "${DATA}/models/stories260K")
run_ok("${ATTRIB}" llm logits --model "${stories}/stories260K.bin" --tokenizer "${stories}/tok512.bin"
       --prompt "Once upon a time" --top-k 3 --last)
if(NOT last_out MATCHES "\n4,378,1,432,\",\",[0-9.]+,-0\\.0[0-9]+\n4,378,2,")
  message(FATAL_ERROR "attrib llm logits: unexpected top candidates:\n${last_out}")
endif()
run_ok("${ATTRIB}" llm logits --model "${stories}/stories260K.gguf" --prompt "Once upon a time" --top-k 3 --last
       --format json --out "${WORK}/logits.json")
file(READ "${WORK}/logits.json" logits_json)
string(JSON first_token GET "${logits_json}" 0 top 0 token)
string(JSON positions LENGTH "${logits_json}")
if(NOT first_token EQUAL 432 OR NOT positions EQUAL 1)
  message(FATAL_ERROR "attrib llm logits --format json: expected one position whose top token is 432:\n${logits_json}")
endif()
run_ok("${ATTRIB}" llm generate --model "${stories}/stories260K.gguf" --prompt "Once upon a time" --max-tokens 2 --top-k 2)
if(NOT last_out MATCHES "position 5 \\(chose 432\\):  432 ',' -0\\.0")
  message(FATAL_ERROR "attrib llm generate --top-k printed:\n${last_out}")
endif()

# Table formats are detected when not given: the wine file is scikit-learn's format (its last
# column, the label, is dropped for explain), a plain table is csv.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn --rows 5
       --method occlusion --quiet)
set(sniffed_out "${last_out}")
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --rows 5 --method occlusion --quiet)
if(NOT last_out STREQUAL sniffed_out)
  message(FATAL_ERROR "a detected sklearn file gave another result than --data-format sklearn")
endif()
run_ok("${ATTRIB}" train --data "${wine}" --model-type logistic_regression --out "${WORK}/sniffed.json")
if(NOT last_err MATCHES "wine_data.csv: scikit-learn's format \\(line 1 is n_rows,n_features,class names; detected")
  message(FATAL_ERROR "attrib train did not say that it detected scikit-learn's format:\n${last_err}")
endif()

# --format json: the same table as objects keyed by column name.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --rows 5-6 --method occlusion --quiet
       --format json --out "${WORK}/occlusion.json")
file(READ "${WORK}/occlusion.json" occlusion_json)
string(JSON rows_in_json LENGTH "${occlusion_json}")
string(JSON second_row GET "${occlusion_json}" 1 row)
string(JSON evaluations GET "${occlusion_json}" 0 model_evaluations)
if(NOT rows_in_json EQUAL 2 OR NOT second_row EQUAL 6 OR NOT evaluations EQUAL 15)
  message(FATAL_ERROR "explain --format json: expected rows 5 and 6 with 15 evaluations each (v(N), v(empty), 13 removals):\n${occlusion_json}")
endif()

# Progress into a log (standard error is not a terminal here): plain lines, no carriage returns.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --rows 0-177 --method kernel-shap
       --samples 4000 --out "${WORK}/progress.csv")
string(ASCII 13 carriage_return)
string(FIND "${last_err}" "${carriage_return}" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "progress written to a log contains a carriage return:\n${last_err}")
endif()

# --svg: a waterfall per instance, valid SVG (rendered with rsvg-convert where installed; deps.sh
# installs it) with the instance headings, feature names and axis ticks as text.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --rows 0,70 --method kernel-shap
       --samples 400 --quiet --out "${WORK}/shap_svg.csv" --svg "${WORK}/shap.svg")
check_svg("${WORK}/shap.svg" ">row 0, output 0: E\\[f\\] = [0-9.]+, f\\(x\\) = [0-9.e-]+<" ">row 70, output 0: " ">x12<" ">x0<"
          "text-anchor=\"middle\">0.[0-9]+<")

# The newer feature methods (issue #13): guided backpropagation, the interaction indices,
# Integrated Hessians and L2X. Closed forms first, on a hand-written ReLU MLP of two inputs,
#   f(a, b) = relu(a + b - 1) - relu(a),  explained at x = (1, 1) against the baseline (0, 0):
# v(empty) = 0, v({a}) = -1, v({b}) = 0, v({a, b}) = 0, so the pair's interaction
# delta = v(ab) - v(a) - v(b) + v(empty) = 1 for every coalition of the (no) other players.
file(WRITE "${WORK}/hand_relu.json" [=[{"format": "attrib-model", "version": 1, "type": "mlp", "inputs": 2, "outputs": 1,
 "layers": [{"in": 2, "out": 2, "activation": "relu"}, {"in": 2, "out": 1, "activation": "identity"}],
 "output": "identity",
 "weights": {"layers.0.weight": [[1, 1], [1, 0]], "layers.0.bias": [-1, 0],
             "layers.1.weight": [[1, -1]], "layers.1.bias": [0]}}]=])
file(WRITE "${WORK}/hand_points.csv" "a,b\n1,1\n0,0\n1,0\n")
set(hand --model "${WORK}/hand_relu.json" --data "${WORK}/hand_points.csv" --rows 0 --baseline-mode row
    --baseline-row 1 --quiet)
set(zero "-?0")
# Shapley-Taylor of order 2: diagonal v({i}) - v(empty) = -1, 0; the pair 1 (the diagonal and the
# pair sum to v(N) - v(empty) = 0).
run_ok("${ATTRIB}" explain ${hand} --method shapley-taylor)
if(NOT last_out MATCHES "^row,output,feature_i,feature_j,value\n0,0,0,0,-1\n0,0,0,1,1\n0,0,1,0,1\n0,0,1,1,${zero}\n$")
  message(FATAL_ERROR "shapley-taylor on f = relu(a + b - 1) - relu(a):\n${last_out}")
endif()
# Order 1 is the Shapley value: phi_a = (-1 + 0) / 2, phi_b = (0 + 1) / 2.
run_ok("${ATTRIB}" explain ${hand} --method shapley-taylor --order 1)
if(NOT last_out MATCHES "^row,output,size,feature_1,value\n0,0,1,0,-0.5\n0,0,1,1,0.5\n$")
  message(FATAL_ERROR "shapley-taylor --order 1 (the Shapley value) on the hand MLP:\n${last_out}")
endif()
# Banzhaf interactions: the pair 1, the diagonal the Banzhaf values -0.5 and 0.5.
run_ok("${ATTRIB}" explain ${hand} --method banzhaf-interactions)
if(NOT last_out MATCHES "^row,output,feature_i,feature_j,value\n0,0,0,0,-0.5\n0,0,0,1,1\n0,0,1,0,1\n0,0,1,1,0.5\n$")
  message(FATAL_ERROR "banzhaf-interactions on the hand MLP:\n${last_out}")
endif()
# Sampled over random orders: every order sees delta = 1, so the estimate is 1 with error 0.
run_ok("${ATTRIB}" explain ${hand} --method permutation-shapley-taylor --samples 43 --seed 5)
if(NOT last_out MATCHES "^row,output,feature_i,feature_j,value,se_value\n0,0,0,0,-1,0\n0,0,0,1,1,0\n0,0,1,0,1,0\n0,0,1,1,${zero},0\n$")
  message(FATAL_ERROR "permutation-shapley-taylor on the hand MLP:\n${last_out}")
endif()
# Guided backpropagation: at x both ReLUs are active; the backward signals at them are 1 and -1,
# and the guided rule stops the negative one, so guided = (1, 1) where the gradient is (0, 1).
run_ok("${ATTRIB}" explain ${hand} --method guided-backprop)
if(NOT last_out MATCHES "^row,output,prediction,a,b,model_evaluations\n0,0,0,1,1,[0-9]+\n$")
  message(FATAL_ERROR "guided-backprop on the hand MLP: expected (1, 1):\n${last_out}")
endif()
run_ok("${ATTRIB}" explain ${hand} --method vanilla-gradient)
if(NOT last_out MATCHES "^row,output,prediction,a,b,model_evaluations\n0,0,0,${zero},1,[0-9]+\n$")
  message(FATAL_ERROR "vanilla-gradient on the hand MLP: expected (0, 1):\n${last_out}")
endif()
# Integrated Hessians of a ReLU network with an identity head: its input Hessian is 0 wherever
# it exists, so the pair's entries are exactly 0 (and the tool says why).
execute_process(COMMAND "${ATTRIB}" explain --model "${WORK}/hand_relu.json" --data "${WORK}/hand_points.csv" --rows 0
                        --baseline-mode row --baseline-row 1 --method integrated-hessians --steps 8
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "\n0,0,0,1,${zero}\n0,0,1,0,${zero}\n" OR NOT err MATCHES "input Hessian is 0 almost everywhere")
  message(FATAL_ERROR "integrated-hessians on the hand ReLU MLP (status ${rc}):\n${out}\n${err}")
endif()

# On the wine MLP (13 features): the long table has 13 x 13 lines per row, and the exact indices
# are symmetric entry by entry.
function(check_pairs csv_text rows with_se)
  string(REGEX MATCHALL "\n[^\n]+" lines "${csv_text}")
  list(LENGTH lines count)
  math(EXPR expected "${rows} * 169")
  set(header "^row,output,feature_i,feature_j,value\n")
  if(with_se)
    set(header "^row,output,feature_i,feature_j,value,se_value\n")
  endif()
  if(NOT count EQUAL expected OR NOT csv_text MATCHES "${header}" OR csv_text MATCHES "nan|inf")
    message(FATAL_ERROR "expected ${expected} finite pair lines under '${header}', got ${count}:\n${csv_text}")
  endif()
  foreach(line IN LISTS lines)
    string(REGEX MATCH "^\n([0-9]+),[0-9]+,([0-9]+),([0-9]+),([^,]+)" _ "${line}")
    set("cell_${CMAKE_MATCH_1}_${CMAKE_MATCH_2}_${CMAKE_MATCH_3}" "${CMAKE_MATCH_4}")
  endforeach()
  set(asymmetric "")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "^\n([0-9]+),[0-9]+,([0-9]+),([0-9]+),([^,]+)" _ "${line}")
    if(NOT "${cell_${CMAKE_MATCH_1}_${CMAKE_MATCH_3}_${CMAKE_MATCH_2}}" STREQUAL "${CMAKE_MATCH_4}")
      string(APPEND asymmetric " (${CMAKE_MATCH_1}: ${CMAKE_MATCH_2}, ${CMAKE_MATCH_3})")
    endif()
  endforeach()
  set(last_asymmetric "${asymmetric}" PARENT_SCOPE)
endfunction()
set(wine_rows --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn --quiet)
run_ok("${ATTRIB}" explain ${wine_rows} --rows 5,70 --method shapley-taylor --threads 2 --out "${WORK}/stii.csv"
       --svg "${WORK}/stii.svg")
file(READ "${WORK}/stii.csv" stii)
check_pairs("${stii}" 2 FALSE)
if(NOT last_asymmetric STREQUAL "")
  message(FATAL_ERROR "shapley-taylor on the wine MLP is not symmetric at${last_asymmetric}")
endif()
check_svg("${WORK}/stii.svg" ">row 70, output 0<" ">x12<")
run_ok("${ATTRIB}" explain ${wine_rows} --rows 5 --method banzhaf-interactions --format json --out "${WORK}/bii.json")
file(READ "${WORK}/bii.json" bii)
string(JSON bii_count LENGTH "${bii}")
string(JSON bii_i GET "${bii}" 14 feature_i)
string(JSON bii_j GET "${bii}" 14 feature_j)
if(NOT bii_count EQUAL 169 OR NOT bii_i EQUAL 1 OR NOT bii_j EQUAL 1)
  message(FATAL_ERROR "banzhaf-interactions --format json: expected 169 objects, entry 14 = (1, 1):\n${bii}")
endif()
string(JSON bii_01 GET "${bii}" 1 value)
string(JSON bii_10 GET "${bii}" 13 value)
if(NOT bii_01 STREQUAL bii_10)
  message(FATAL_ERROR "banzhaf-interactions: (0, 1) = ${bii_01} but (1, 0) = ${bii_10}")
endif()
# Sampled: with standard errors, and the same file on 1 and 2 threads.
run_ok("${ATTRIB}" explain ${wine_rows} --rows 5,6 --method msr-banzhaf-interactions --samples 2000 --seed 4
       --out "${WORK}/msr_pairs.csv")
run_ok("${ATTRIB}" explain ${wine_rows} --rows 5,6 --method msr-banzhaf-interactions --samples 2000 --seed 4
       --threads 2 --out "${WORK}/msr_pairs2.csv")
file(READ "${WORK}/msr_pairs.csv" one)
file(READ "${WORK}/msr_pairs2.csv" two)
check_pairs("${one}" 2 TRUE)
if(NOT one STREQUAL two OR NOT last_asymmetric STREQUAL "")
  message(FATAL_ERROR "msr-banzhaf-interactions differs between 1 and 2 threads or is not symmetric${last_asymmetric}")
endif()
run_ok("${ATTRIB}" explain ${wine_rows} --rows 5 --method permutation-shapley-taylor --samples 3000 --seed 4)
check_pairs("${last_out}" 1 TRUE)
# Integrated Hessians of the tanh MLP: finite, 169 entries, and the entries sum to f(x) - f(baseline)
# (the completeness delta on standard error; about 6e-7 with 16 x 16 Gauss-Legendre points, 7e-4 with 8 x 8).
execute_process(COMMAND "${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn
                        --rows 5 --method integrated-hessians --steps 16
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
check_pairs("${out}" 1 FALSE)
if(NOT rc EQUAL 0 OR NOT err MATCHES "row 5, output 0: f\\(baseline\\) [-0-9.e]+, f\\(x\\) [-0-9.e]+, completeness delta -?[0-9.]+e-(0[5-9]|[1-9][0-9])")
  message(FATAL_ERROR "integrated-hessians on the wine MLP (status ${rc}): no small completeness delta:\n${err}")
endif()
# Guided backpropagation on a ReLU wine MLP: the gradient methods' input-space columns.
run_ok("${ATTRIB}" train --data "${wine}" --model-type mlp --hidden 8 --activation relu --epochs 30 --seed 1
       --out "${WORK}/wine_relu.json" --quiet)
run_ok("${ATTRIB}" explain --model "${WORK}/wine_relu.json" --data "${wine}" --rows 5-6 --method guided-backprop --quiet)
if(NOT last_out MATCHES "^row,output,prediction,x0,[^\n]*,x12,model_evaluations\n5,0,[^\n]+\n6,0,[^\n]+\n$"
   OR last_out MATCHES "nan|inf")
  message(FATAL_ERROR "guided-backprop on the ReLU wine MLP:\n${last_out}")
endif()
# L2X: an explainer trained on the 178 wine rows picks exactly --k features per row, those of the
# largest selector scores.
run_ok("${ATTRIB}" explain ${wine_rows} --rows 0-3 --method l2x --k 3 --epochs 30 --hidden 16 --seed 2
       --out "${WORK}/l2x.csv")
file(STRINGS "${WORK}/l2x.csv" l2x_lines)
list(LENGTH l2x_lines l2x_count)
list(GET l2x_lines 0 l2x_header)
if(NOT l2x_count EQUAL 5 OR NOT l2x_header MATCHES
   "^row,output,base_value,prediction,selected_prediction,x0,.*,x12,selected_x0,.*,selected_x12$")
  message(FATAL_ERROR "l2x: expected a header and 4 rows, got ${l2x_count} lines, '${l2x_header}'")
endif()
list(SUBLIST l2x_lines 1 4 l2x_rows)
foreach(line IN LISTS l2x_rows)
  string(REPLACE "," ";" cells "${line}")
  list(SUBLIST cells 5 13 scores)
  list(SUBLIST cells 18 13 chosen)
  set(picked 0)
  set(lowest_picked "")
  set(highest_other "")
  foreach(f RANGE 12)
    list(GET scores ${f} score)
    list(GET chosen ${f} mark)
    if(mark STREQUAL "1")
      math(EXPR picked "${picked} + 1")
      if(lowest_picked STREQUAL "" OR score LESS lowest_picked)
        set(lowest_picked "${score}")
      endif()
    elseif(mark STREQUAL "0")
      if(highest_other STREQUAL "" OR score GREATER highest_other)
        set(highest_other "${score}")
      endif()
    else()
      message(FATAL_ERROR "l2x: selected_ cell '${mark}' is neither 0 nor 1 in ${line}")
    endif()
  endforeach()
  if(NOT picked EQUAL 3 OR lowest_picked LESS highest_other)
    message(FATAL_ERROR "l2x: ${picked} features selected (expected 3), lowest selected score ${lowest_picked} vs "
                        "highest other ${highest_other}:\n${line}")
  endif()
endforeach()

# Each refusal names what is wrong and what was expected.
run_fails("--method guided-backprop is defined for ReLU networks: every hidden layer must be relu and the last relu or identity, but layer 0 of the model has activation 'tanh'"
          "${ATTRIB}" explain ${wine_rows} --rows 5 --method guided-backprop)
run_fails("--method guided-backprop needs an MLP \\(model type mlp\\) whose hidden layers are relu; the model is a logistic_regression"
          "${ATTRIB}" explain --model "${WORK}/sniffed.json" --data "${wine}" --rows 5 --method guided-backprop)
run_fails("--method integrated-hessians needs the input Hessian of an MLP \\(model type mlp\\); the model is a logistic_regression"
          "${ATTRIB}" explain --model "${WORK}/sniffed.json" --data "${wine}" --rows 5 --method integrated-hessians)
set(cancer "${DATA}/breast_cancer/breast_cancer.csv")
run_ok("${ATTRIB}" train --data "${cancer}" --model-type logistic_regression --out "${WORK}/bc_lr.json" --quiet)
run_fails("--method shapley-taylor enumerates all 2\\^n coalitions and takes at most 24 players; the model has 30 features"
          "${ATTRIB}" explain --model "${WORK}/bc_lr.json" --data "${cancer}" --rows 0 --method shapley-taylor)
run_fails("--method banzhaf-interactions enumerates all 2\\^n coalitions and takes at most 24 players; the model has 30 features"
          "${ATTRIB}" explain --model "${WORK}/bc_lr.json" --data "${cancer}" --rows 0 --method banzhaf-interactions)
run_fails("--samples 100 is too small for permutation-shapley-taylor: with 13 players each random order costs 92 evaluations"
          "${ATTRIB}" explain ${wine_rows} --rows 5 --method permutation-shapley-taylor --samples 100)
run_fails("--order applies to --method shapley-taylor only" "${ATTRIB}" explain ${wine_rows} --rows 5
          --method banzhaf-interactions --order 3)
run_fails("l2x replaces absent features by one reference row, but --baseline-mode background gives 10 rows"
          "${ATTRIB}" explain ${wine_rows} --rows 5 --method l2x --baseline "${wine}" --baseline-format sklearn
          --baseline-mode background --max-background 10)
run_fails("--loss cross-entropy needs the model's outputs to be probabilities" "${ATTRIB}" explain ${hand}
          --method l2x --loss cross-entropy)

# attrib data split: the shipped breast-cancer table into 400 + 169 rows in its own format, the
# same files for the same seed and from standard input, and the split files usable by attrib data.
set(cancer "${DATA}/breast_cancer/breast_cancer.csv")
run_ok("${ATTRIB}" data split --data "${cancer}" --test-size 169 --seed 0 --train-out "${WORK}/bc_train.csv"
       --test-out "${WORK}/bc_test.csv")
file(STRINGS "${WORK}/bc_train.csv" train_lines)
file(STRINGS "${WORK}/bc_test.csv" test_lines)
list(LENGTH train_lines train_count)
list(LENGTH test_lines test_count)
list(GET train_lines 0 train_header)
if(NOT train_count EQUAL 401 OR NOT test_count EQUAL 170 OR NOT train_header STREQUAL "400,30,malignant,benign")
  message(FATAL_ERROR "data split: expected 400 + 169 rows under scikit-learn headers, got ${train_count} and ${test_count} lines, '${train_header}'")
endif()
execute_process(COMMAND "${ATTRIB}" data split --data - --test-size 169 --seed 0 --train-out "${WORK}/bc_train2.csv"
                        --test-out "${WORK}/bc_test2.csv" --quiet
                INPUT_FILE "${cancer}" RESULT_VARIABLE rc)
file(READ "${WORK}/bc_train.csv" first_split)
file(READ "${WORK}/bc_train2.csv" second_split)
if(NOT rc EQUAL 0 OR NOT first_split STREQUAL second_split)
  message(FATAL_ERROR "data split from standard input (status ${rc}) gave another training file")
endif()
run_ok("${ATTRIB}" data --train "${WORK}/bc_train.csv" --test "${WORK}/bc_test.csv" --rows 0-1 --method grad-dot --quiet)
string(REGEX MATCHALL "\n" newlines "${last_out}")
list(LENGTH newlines data_lines)
if(NOT data_lines EQUAL 401)
  message(FATAL_ERROR "attrib data on the split files: expected a header and 400 rows, got ${data_lines} lines")
endif()
# FastIF with every training point as a candidate scores every pair (its equality with the
# influence function is checked in tests/test_influence_variants.cpp); with --k 10, 20 pairs.
run_ok("${ATTRIB}" data --train "${WORK}/bc_train.csv" --test "${WORK}/bc_test.csv" --rows 0-1 --method fastif --k 10)
if(NOT last_err MATCHES "20 of 800 pairs scored")
  message(FATAL_ERROR "attrib data fastif: expected 20 pairs scored with --k 10:\n${last_err}")
endif()
run_ok("${ATTRIB}" data --train "${WORK}/bc_train.csv" --test "${WORK}/bc_test.csv" --rows 0-1 --method fastif --k 400)
if(NOT last_err MATCHES "800 of 800 pairs scored")
  message(FATAL_ERROR "attrib data fastif: expected every pair scored with --k 400:\n${last_err}")
endif()
foreach(method relatif sgd-influence source)
  run_ok("${ATTRIB}" data --train "${WORK}/bc_train.csv" --test "${WORK}/bc_test.csv" --rows 0 --method ${method} --quiet)
  string(REGEX MATCHALL "\n" newlines "${last_out}")
  list(LENGTH newlines method_lines)
  if(NOT method_lines EQUAL 401)
    message(FATAL_ERROR "attrib data --method ${method}: expected a header and 400 rows, got ${method_lines} lines")
  endif()
endforeach()
run_fails("--method sgd-influence needs logistic_regression or linear_regression" "${ATTRIB}" data --train "${WORK}/bc_train.csv"
          --test "${WORK}/bc_test.csv" --rows 0 --method sgd-influence --model-type mlp --hidden 4 --epochs 1)
run_fails("--train and --test both read standard input" "${ATTRIB}" data --train - --test - --method grad-dot)
run_fails("--train-out and --test-out would both write to standard output" "${ATTRIB}" data split
          --data "${cancer}" --train-out - --test-out -)
run_fails("--svg and --out would both write to standard output|--out and --svg would both write to standard output"
          "${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --rows 0 --method occlusion --svg -)

# attrib graph explain --svg: the molecule drawn with its atoms named, the explanation ringed.
run_ok("${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG --model-file "${WORK}/mutag_gin.txt" --graph 1
       --method hn --node-names C,N,O,F,I,Cl,Br --out "${WORK}/mutag_1.csv" --svg "${WORK}/mutag_1.svg" --quiet)
file(STRINGS "${WORK}/mutag_1.csv" graph_lines)
list(LENGTH graph_lines graph_count)
if(NOT graph_count EQUAL 14)
  message(FATAL_ERROR "graph explain --out: expected a header and 13 nodes, got ${graph_count} lines")
endif()
check_svg("${WORK}/mutag_1.svg" ">MUTAG graph 1: hn scores for class [01]" ">C</text>" ">N</text>" ">O</text>"
          "stroke=\"black\" stroke-width=\"3\"" "ringed: the nodes of the explanation")

# attrib llm patch on stories260K, "dog" (clean) against "cat" (corrupted), both methods. Closed
# forms: patching the shared prefix (positions 0-4) changes nothing, by either method; patching
# the last layer's output at the last position restores the clean run exactly.
run_ok("${ATTRIB}" llm patch --model "${stories}/stories260K.gguf" --clean "Lily saw a big dog in the park. The"
       --corrupted "Lily saw a big cat in the park. The" --point resid_post --method both
       --out "${WORK}/patch.csv" --svg "${WORK}/patch.svg")
if(NOT last_err MATCHES "difference ([0-9.]+)")
  message(FATAL_ERROR "llm patch printed no clean - corrupted difference:\n${last_err}")
endif()
set(difference "${CMAKE_MATCH_1}")
file(READ "${WORK}/patch.csv" patch_csv)
if(NOT patch_csv MATCHES "^layer,position,token,piece,exact,attribution\n" OR
   NOT patch_csv MATCHES "\n4,13,291, The,${difference},")
  message(FATAL_ERROR "llm patch: expected the header and cell (4, 13) = ${difference}:\n${patch_csv}")
endif()
foreach(layer RANGE 4)
  foreach(position RANGE 4)
    if(NOT patch_csv MATCHES "\n${layer},${position},[0-9]+,[^,\n]*,0,0\n")
      message(FATAL_ERROR "llm patch: cell (${layer}, ${position}) of the shared prefix is not 0 by both methods")
    endif()
  endforeach()
endforeach()
check_svg("${WORK}/patch.svg" ">activation patching \\(exact\\)<" ">attribution patching" ">resid_post.4<"
          ">&lt;1&gt;<" "F\\(patched\\) - F\\(corrupted\\)")
run_fails("the clean prompt has 6 tokens and the corrupted one 7" "${ATTRIB}" llm patch
          --model "${stories}/stories260K.gguf" --clean "Lily saw a dog" --corrupted "Lily saw a girl")

# attrib llm noise-trace on stories260K: ROME's causal tracing with "big dog" (positions 4-5)
# noised. Closed form: restoring a position before the subject changes nothing, at every layer.
run_ok("${ATTRIB}" llm noise-trace --model "${stories}/stories260K.gguf" --prompt "Lily saw a big dog in the park. The"
       --subject-positions 4-5 --samples 3 --out "${WORK}/noise.csv" --svg "${WORK}/noise.svg")
if(NOT last_err MATCHES "clean [0-9.e-]+, noised [0-9.e-]+ \\(noise sd [0-9.e-]+, 3 samples\\)")
  message(FATAL_ERROR "llm noise-trace printed no clean and noised probabilities:\n${last_err}")
endif()
file(READ "${WORK}/noise.csv" noise_csv)
if(NOT noise_csv MATCHES "^layer,position,token,piece,restored,indirect_effect,standard_error\n")
  message(FATAL_ERROR "llm noise-trace: unexpected header:\n${noise_csv}")
endif()
foreach(layer RANGE 4)
  foreach(position RANGE 3)
    if(NOT noise_csv MATCHES "\n${layer},${position},[0-9]+,[^,\n]*,[^,\n]+,0,")
      message(FATAL_ERROR "llm noise-trace: cell (${layer}, ${position}) before the subject has an effect:\n${noise_csv}")
    endif()
  endforeach()
endforeach()
check_svg("${WORK}/noise.svg" ">ROME causal tracing: restoring resid_post<" ">resid_post.4<" "indirect effect")
run_fails("--subject-positions" "${ATTRIB}" llm noise-trace --model "${stories}/stories260K.gguf" --prompt "Lily saw a dog"
          --subject-positions 40)

# attrib llm components on stories260K, "dog" (clean) against "cat" (corrupted): every head by
# attribution patching (5 layers x 8 heads), and the stream entering layer 0 position by position
# by occlusion. Closed form: a position of the shared prefix patched with the corrupted run's
# activation, which is the clean run's, changes nothing.
run_ok("${ATTRIB}" llm components --model "${stories}/stories260K.gguf" --clean "Lily saw a big dog in the park. The"
       --corrupted "Lily saw a big cat in the park. The" --out "${WORK}/heads.csv" --svg "${WORK}/heads.svg")
if(NOT last_err MATCHES "attribution-patching, 40 players, patch ablation, metric logit-difference")
  message(FATAL_ERROR "llm components: expected attribution patching over 40 heads:\n${last_err}")
endif()
file(STRINGS "${WORK}/heads.csv" head_lines)
list(LENGTH head_lines head_count)
list(GET head_lines 0 head_header)
list(GET head_lines 40 head_last)
if(NOT head_count EQUAL 41 OR NOT head_header STREQUAL "player,layer,unit,value" OR NOT head_last MATCHES "^head 4.7,4,7,")
  message(FATAL_ERROR "llm components: expected a header and 40 head rows, got ${head_count} lines:\n${head_header}\n${head_last}")
endif()
check_svg("${WORK}/heads.svg" ">layer 4<" ">head 7<" "v\\(all\\) - v\\(all but the player\\)")
run_ok("${ATTRIB}" llm components --model "${stories}/stories260K.gguf" --clean "Lily saw a big dog in the park. The"
       --corrupted "Lily saw a big cat in the park. The" --players positions:0 --method occlusion
       --out "${WORK}/positions.csv")
file(READ "${WORK}/positions.csv" positions_csv)
foreach(position RANGE 4)
  # 0 up to the rounding of occlusion's exhaustive least-squares fit (below 1e-10)
  if(NOT positions_csv MATCHES "\nposition 0.${position},0,${position},(0|-?[0-9.]+e-(1[0-9]|[2-9][0-9]))\n")
    message(FATAL_ERROR "llm components: position ${position} of the shared prefix is not 0:\n${positions_csv}")
  endif()
endforeach()
run_fails("the clean prompt has 6 tokens and the corrupted one 7" "${ATTRIB}" llm components
          --model "${stories}/stories260K.gguf" --clean "Lily saw a dog" --corrupted "Lily saw a girl")
# ACDC over the block edges (66 for 5 layers): the circuit keeps some edges and draws them.
run_ok("${ATTRIB}" llm components --model "${stories}/stories260K.gguf" --clean "Lily saw a big dog in the park. The"
       --corrupted "Lily saw a big cat in the park. The" --players edges --metric kl --threshold 0.02
       --out "${WORK}/edges.csv" --svg "${WORK}/circuit.svg")
if(NOT last_err MATCHES "acdc, 66 edges, patch ablation, metric kl; kept [1-9][0-9]* edges")
  message(FATAL_ERROR "llm components --players edges: expected ACDC over 66 edges:\n${last_err}")
endif()
file(STRINGS "${WORK}/edges.csv" edge_lines)
list(LENGTH edge_lines edge_count)
list(GET edge_lines 0 edge_header)
if(NOT edge_count EQUAL 67 OR NOT edge_header STREQUAL "edge,sender,receiver,kept,value")
  message(FATAL_ERROR "llm components --players edges: expected a header and 66 edges:\n${edge_header}")
endif()
check_svg("${WORK}/circuit.svg" ">ACDC circuit \\(kl, patch ablation, threshold 0.02\\)<" ">logits<")
# Edge attribution patching in its integrated-gradients form (its values are checked against the
# edge game's derivatives and for completeness in the unit tests): the option reaches the method.
run_ok("${ATTRIB}" llm components --model "${stories}/stories260K.gguf" --clean "Lily saw a big dog in the park. The"
       --corrupted "Lily saw a big cat in the park. The" --players edges --method attribution-patching --steps 16
       --out "${WORK}/eap_ig.csv")
if(NOT last_err MATCHES "edge attribution patching \\(EAP-IG, 16 steps\\), 66 edges, patch ablation, metric logit-difference")
  message(FATAL_ERROR "llm components --steps 16: expected EAP-IG over 66 edges:\n${last_err}")
endif()
file(STRINGS "${WORK}/eap_ig.csv" eap_lines)
list(LENGTH eap_lines eap_count)
if(NOT eap_count EQUAL 67)
  message(FATAL_ERROR "llm components --steps 16: expected a header and 66 edges, got ${eap_count} lines")
endif()
run_fails("--steps is read by --players edges --method attribution-patching only" "${ATTRIB}" llm components
          --model "${stories}/stories260K.gguf" --clean "Lily saw a dog" --steps 4)
run_fails("--players must be heads, blocks" "${ATTRIB}" llm components --model "${stories}/stories260K.gguf"
          --clean "Lily saw a dog" --players wires)
run_fails("--threshold is read by --players edges --method acdc only" "${ATTRIB}" llm components
          --model "${stories}/stories260K.gguf" --clean "Lily saw a dog" --threshold 0.1)

# attrib llm attribute: exact Shapley values of the 4 tokens after BOS, one row each, and a heatmap.
run_ok("${ATTRIB}" llm attribute --model "${stories}/stories260K.gguf" --prompt "Lily saw a big"
       --out "${WORK}/attribute.csv" --svg "${WORK}/attribute.svg")
if(NOT last_err MATCHES "exact-shapley, 4 players")
  message(FATAL_ERROR "llm attribute: expected exact Shapley over 4 players:\n${last_err}")
endif()
file(STRINGS "${WORK}/attribute.csv" attribute_lines)
list(LENGTH attribute_lines attribute_count)
list(GET attribute_lines 0 attribute_header)
if(NOT attribute_count EQUAL 5 OR NOT attribute_header STREQUAL "position,token,piece,value")
  message(FATAL_ERROR "llm attribute: expected a header and 4 rows, got ${attribute_count} lines, '${attribute_header}'")
endif()
check_svg("${WORK}/attribute.svg" ">prompt tokens explaining " ">value<" "exact-shapley: F\\(prompt\\)")
# attrib llm study: knowledge storage on stories260K and its post-trained version over the
# generated cities, and transfer with its four maps; the tables, CSV rows and heatmaps exist and
# say what they hold. (The library's numbers are checked against a brute force in the unit tests.)
run_ok("${ATTRIB}" llm study knowledge --base "${stories}/stories260K.gguf" --post "${DATA}/models/stories260K-instruct"
       --tokenizer "${stories}/tok512.bin" --post-name instruct --dataset cities --max-pairs 3 --out "${WORK}/study")
if(NOT last_err MATCHES "3 pairs of cities" OR NOT last_err MATCHES "base vs instruct: Corr")
  message(FATAL_ERROR "llm study knowledge printed:\n${last_err}")
endif()
file(READ "${WORK}/study/knowledge.md" study_md)
if(NOT study_md MATCHES "\\| base vs instruct \\| " OR NOT study_md MATCHES "## M, instruct")
  message(FATAL_ERROR "llm study knowledge: knowledge.md lacks the comparison or the maps:\n${study_md}")
endif()
file(STRINGS "${WORK}/study/knowledge.csv" study_lines)
list(GET study_lines 0 study_header)
if(NOT study_header STREQUAL "source,target,layer,column,token,role,mean_effect,score")
  message(FATAL_ERROR "llm study knowledge: unexpected CSV header '${study_header}'")
endif()
check_svg("${WORK}/study/knowledge.svg" ">M, base<" ">M, instruct<" ">difference: base vs instruct<" ">resid_post.4<")
run_ok("${ATTRIB}" llm study transfer --base "${stories}/stories260K.gguf" --post "${DATA}/models/stories260K-instruct"
       --tokenizer "${stories}/tok512.bin" --dataset cities --max-pairs 2 --quiet --out "${WORK}/study")
file(READ "${WORK}/study/transfer.json" transfer_json)
string(JSON transfer_maps LENGTH "${transfer_json}" maps)
string(JSON forward_name GET "${transfer_json}" comparisons 0 name)
if(NOT transfer_maps EQUAL 4 OR NOT forward_name STREQUAL "forward transfer (base -> post vs post)")
  message(FATAL_ERROR "llm study transfer: expected 4 maps and the forward comparison, got ${transfer_maps}, '${forward_name}'")
endif()
# attrib llm study truth and intervene on small hand-written sets: the tables exist and hold one
# accuracy per (probe, activations) pair and one effect per (direction, steered model) pair.
file(WRITE "${WORK}/truth_train.csv" "statement,label\nThe sun is hot.,1\nThe ice is hot.,0\nThe fish can swim.,1\n"
     "The rock can swim.,0\nThe dog can bark.,1\nThe cat can bark.,0\nThe bird can fly.,1\nThe stone can fly.,0\n")
file(WRITE "${WORK}/truth_test.csv" "statement,label\nThe snow is cold.,1\nThe fire is cold.,0\nThe frog can jump.,1\n"
     "The tree can jump.,0\nThe cow can moo.,1\nThe hen can moo.,0\nThe sea is wet.,1\nThe sand is wet.,0\n")
run_ok("${ATTRIB}" llm study truth --base "${stories}/stories260K.gguf" --post "${DATA}/models/stories260K-instruct"
       --tokenizer "${stories}/tok512.bin" --train "${WORK}/truth_train.csv" --test "${WORK}/truth_test.csv" --layer 2
       --out "${WORK}/study")
if(NOT last_err MATCHES "truth probes at resid_post.2, tested on truth_test" OR NOT last_err MATCHES "post probe on base: accuracy")
  message(FATAL_ERROR "llm study truth printed:\n${last_err}")
endif()
file(STRINGS "${WORK}/study/truth.csv" truth_lines)
list(LENGTH truth_lines truth_count)
if(NOT truth_count EQUAL 17)  # header, 4 accuracies, 4 cosines, 2 held-out sets x 4
  message(FATAL_ERROR "llm study truth: expected 17 CSV lines, got ${truth_count}")
endif()
run_ok("${ATTRIB}" llm study intervene --base "${stories}/stories260K.gguf" --post "${DATA}/models/stories260K-instruct"
       --tokenizer "${stories}/tok512.bin" --train "${WORK}/truth_train.csv" --test "${WORK}/truth_test.csv" --layer 2
       --layers 1-2 --coefficient 4 --out "${WORK}/study")
file(READ "${WORK}/study/intervene.md" intervene_md)
if(NOT intervene_md MATCHES "\\| direction \\\\ steered \\| base \\| post \\|" OR NOT intervene_md MATCHES "layers 1, 2")
  message(FATAL_ERROR "llm study intervene: intervene.md lacks Table 3:\n${intervene_md}")
endif()
run_fails("--test 'nowhere' is neither a CSV file nor one of cities" "${ATTRIB}" llm study truth
          --base "${stories}/stories260K.gguf" --post "${stories}/stories260K.gguf" --train larger_than --test nowhere
          --out "${WORK}/study")
# attrib llm study entropy reads weights alone (no tokenizer): the base model against itself
# shares all ten neurons (IoU 1), and the post-trained model's set is reported.
run_ok("${ATTRIB}" llm study entropy --base "${stories}/stories260K.gguf" --post "${stories}/stories260K.bin"
       --sft "${DATA}/models/stories260K-instruct" --out "${WORK}/study")
if(NOT last_err MATCHES "base vs post: overlap 10, IoU 1.000" OR NOT last_err MATCHES "base vs sft: overlap [0-9]+, IoU")
  message(FATAL_ERROR "llm study entropy printed:\n${last_err}")
endif()
# attrib llm study refusal: stories260K-instruct was post-trained to refuse the corpus's
# (placeholder) harmful requests and the base model was not; the table and the samples are written.
run_ok("${ATTRIB}" llm study refusal --base "${stories}/stories260K.gguf" --post "${DATA}/models/stories260K-instruct"
       --tokenizer "${stories}/tok512.bin" --post-name instruct --requests 20 --test-requests 10 --max-tokens 8
       --out "${WORK}/study")
if(NOT last_err MATCHES "instruct: refuses 1.00 of harmful" OR NOT last_err MATCHES "base: refuses 0.00 of harmful")
  message(FATAL_ERROR "llm study refusal printed:\n${last_err}")
endif()
file(READ "${WORK}/study/refusal.md" refusal_md)
if(NOT refusal_md MATCHES "r_instruct -> h_instruct")
  message(FATAL_ERROR "llm study refusal: refusal.md lacks Table 4's rows:\n${refusal_md}")
endif()
# attrib llm study all: every study into one folder and a page linking them.
run_ok("${ATTRIB}" llm study all --base "${stories}/stories260K.gguf" --post "${DATA}/models/stories260K-instruct"
       --tokenizer "${stories}/tok512.bin" --train "${WORK}/truth_train.csv" --test "${WORK}/truth_test.csv"
       --max-pairs 2 --requests 10 --test-requests 10 --max-tokens 4 --quiet --out "${WORK}/study_all")
file(READ "${WORK}/study_all/index.md" index_md)
foreach(stem knowledge transfer truth intervene refusal entropy conclusions)
  if(NOT EXISTS "${WORK}/study_all/${stem}.md" OR NOT index_md MATCHES "\\(${stem}.md\\)")
    message(FATAL_ERROR "llm study all: ${stem}.md is missing or not linked from index.md:\n${index_md}")
  endif()
endforeach()
# The paper's conclusions, one row per check (the verdicts' numbers are the library tests' business).
file(READ "${WORK}/study_all/conclusions.csv" conclusions_csv)
if(NOT conclusions_csv MATCHES "Table 1" OR NOT conclusions_csv MATCHES "Table 14"
   OR NOT conclusions_csv MATCHES "ablating it leaves refusal in place")
  message(FATAL_ERROR "llm study all: conclusions.csv lacks a check:\n${conclusions_csv}")
endif()
# attrib llm study edit: a ROME edit of stories260K at layer 2 makes " big" follow the prompt
# (efficacy 1 in the library's tests); a request whose subject is not in its prompt is refused.
file(WRITE "${WORK}/edits.json" "[{\"prompt\": \"Lily has a red ball. The ball is\", \"subject\": \"The ball\",
  \"new_object\": \" big\", \"paraphrases\": [\"Lily has a red ball. Her ball is\"],
  \"neighbours\": [\"Tom has a big dog. The dog is\", \"The sun was\"]}]\n")
run_ok("${ATTRIB}" llm study edit --base "${stories}/stories260K.gguf" --post "${DATA}/models/stories260K-instruct"
       --tokenizer "${stories}/tok512.bin" --edits "${WORK}/edits.json" --layer 2 --out "${WORK}/study")
if(NOT last_err MATCHES "base, 1 edits at layer 2 \\(traced\\): efficacy 1.00")
  message(FATAL_ERROR "llm study edit printed:\n${last_err}")
endif()
if(NOT EXISTS "${WORK}/study/edit_base.md" OR NOT EXISTS "${WORK}/study/edit_post.json")
  message(FATAL_ERROR "llm study edit: edit_base.md or edit_post.json is missing")
endif()
file(WRITE "${WORK}/bad_edits.json" "[{\"prompt\": \"Lily ran.\", \"subject\": \"Tom\", \"new_object\": \" big\"}]")
run_fails("request 0: the subject 'Tom' does not occur in the prompt" "${ATTRIB}" llm study edit
          --base "${stories}/stories260K.gguf" --post "${stories}/stories260K.gguf" --edits "${WORK}/bad_edits.json"
          --out "${WORK}/study")
file(WRITE "${WORK}/no_label.csv" "statement,truth\nThe sky is blue.,1\n")
run_fails("label" "${ATTRIB}" llm study knowledge --base "${stories}/stories260K.gguf" --post "${stories}/stories260K.gguf"
          --data "${WORK}/no_label.csv" --out "${WORK}/study")
run_fails("give one of --data CSV and --dataset NAME" "${ATTRIB}" llm study knowledge --base "${stories}/stories260K.gguf"
          --post "${stories}/stories260K.gguf" --out "${WORK}/study")

foreach(command "data split" "llm patch" "llm attribute" "llm components" "llm study")
  string(REPLACE " " ";" words "${command}")
  run_ok("${ATTRIB}" ${words} -h)
  if(NOT last_out MATCHES "usage: attrib ${command}")
    message(FATAL_ERROR "attrib ${command} -h printed no usage:\n${last_out}")
  endif()
endforeach()

message(STATUS "attrib CLI smoke test passed")
