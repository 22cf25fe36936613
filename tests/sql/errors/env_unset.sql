CREATE TABLE clicks (user_id INT)
WITH ('connector' = 'kafka',
      'topic' = '${RUNNEL_TEST_SURELY_UNSET_VARIABLE}');
SELECT user_id FROM clicks;
